//! Mamori's cryptography at rest: token secrets sealed with AES-256-GCM under a master key, and
//! API keys stored only as hashes.
//!
//! - Every sealed record names the key that sealed it (`key_id`), so the master key can be
//!   rotated: new records use the current key, old ones still open with the old key until they
//!   are re-sealed.
//! - The credential ID is the associated data, so a ciphertext copied onto another credential's
//!   row does not open.
//! - Keys for other purposes (webhook secrets, anti-forgery tokens, a keyed audit chain) are
//!   [`Keyring::subkey`]s: HKDF-SHA256 of a random root that is itself a sealed record, never
//!   the raw master key, so a master-key rotation changes none of them.
//! - Login passwords are argon2id with a pepper (another subkey) as its secret input, so a
//!   stolen database cannot be brute-forced and a hash written into it does not verify.
//! - This crate never logs and never prints a secret; `Debug` of key material is redacted.

mod api_key;
pub mod checkpoint;
pub mod device;
mod keyring;
mod mac;
pub mod password;
pub mod signing;

pub use api_key::{ApiKey, ApiKeyHash, ApiKeyParseError};
pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner};
pub use device::{DeviceKeyError, DeviceKeyPair, DevicePublicKey};
pub use keyring::{KeyError, Keyring, MasterKey, SealedSecret, write_private_file};
pub use mac::hmac_sha256;
pub use password::{PasswordHashError, PasswordHashing, Pepper, PepperedHashing};
pub use signing::{JwtSigningKey, SigningError, jwk};
