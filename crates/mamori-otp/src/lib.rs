#![doc = include_str!("../README.md")]
//!
//! # Example
//!
//! ```
//! use mamori_otp::{normalize_code, totp, totp_step, verify_totp, OtpParams, Secret};
//!
//! let secret = Secret::from_bytes(b"12345678901234567890")?;
//! let params = OtpParams::default(); // SHA1, 6 digits, 30 s
//! let now = 1_111_111_109; // supplied by the caller's clock
//! assert_eq!(totp(&secret, now, params).as_str(), "081804");
//!
//! // What the customer typed on a Japanese keyboard.
//! let typed = normalize_code("０８１ ８０４", params.digits)?;
//! let step = totp_step(now, params.period);
//! assert_eq!(verify_totp(&secret, params, &typed, step, 1, 1), Some(step));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod algorithm;
mod code;
pub mod credential_id;
mod generate;
mod secret;
mod text;
pub mod uri;
mod verify;

pub use algorithm::{Algorithm, Digits, OtpParams, ParamError, Period};
pub use code::{Code, CodeError, normalize_code};
pub use credential_id::{CredentialId, CredentialIdError, TokenSerial, TypedCredentialId};
pub use generate::{hotp, totp, totp_at_step, totp_step, truncated_value};
pub use secret::{Secret, SecretError};
pub use text::fold_width;
pub use uri::{OtpAuthUri, OtpKind, UriError};
pub use verify::{resync_hotp, resync_totp, verify_hotp, verify_totp, verify_totp_after};
