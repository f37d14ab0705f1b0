//! Device keys of Mamori's own token: an Ed25519 key pair made on the phone (or by
//! `mamori token`) when a credential is provisioned or activated. The server keeps only the
//! public key and checks the device's signatures over push answers and approval listings.
//!
//! Keys and signatures travel as base64url without padding (RFC 4648 §5).

use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Why a device key or signature could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceKeyError {
    /// Not base64url, or not 32 bytes, or not a valid Ed25519 point.
    #[error("a device public key is 32 bytes of Ed25519, base64url without padding")]
    PublicKey,
    /// Not base64url or not 64 bytes.
    #[error("a device signature is 64 bytes of Ed25519, base64url without padding")]
    Signature,
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// A device's public key, as registered with its credential.
#[derive(Clone, PartialEq, Eq)]
pub struct DevicePublicKey(VerifyingKey);

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({})", self.to_base64())
    }
}

impl DevicePublicKey {
    /// Reads a key sent by a device. Weak (small-order) points are refused, so no signature
    /// can verify under a key the device does not hold.
    pub fn parse(base64: &str) -> Result<Self, DeviceKeyError> {
        let bytes = BASE64URL_NOPAD
            .decode(base64.trim().as_bytes())
            .map_err(|_| DeviceKeyError::PublicKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| DeviceKeyError::PublicKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| DeviceKeyError::PublicKey)?;
        if key.is_weak() {
            return Err(DeviceKeyError::PublicKey);
        }
        Ok(Self(key))
    }

    /// The key as stored and sent.
    pub fn to_base64(&self) -> String {
        BASE64URL_NOPAD.encode(self.0.as_bytes())
    }

    /// Whether `signature` is this key's signature over `message` (strict RFC 8032
    /// verification: no malleable or non-canonical signatures).
    pub fn verify(&self, message: &[u8], signature: &str) -> Result<bool, DeviceKeyError> {
        let bytes = BASE64URL_NOPAD
            .decode(signature.trim().as_bytes())
            .map_err(|_| DeviceKeyError::Signature)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| DeviceKeyError::Signature)?;
        let signature = Signature::from_bytes(&bytes);
        Ok(self.0.verify_strict(message, &signature).is_ok()
            && self.0.verify(message, &signature).is_ok())
    }
}

/// A device's key pair, held by the token (never by the server).
pub struct DeviceKeyPair(SigningKey);

impl fmt::Debug for DeviceKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceKeyPair({}, **redacted**)",
            self.public().to_base64()
        )
    }
}

impl DeviceKeyPair {
    /// A new key pair from the OS CSPRNG.
    pub fn generate() -> Result<Self, DeviceKeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| DeviceKeyError::Random(e.to_string()))?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// A key pair from its 32-byte seed, base64url (as the token keeps it).
    pub fn from_seed_base64(seed: &str) -> Result<Self, DeviceKeyError> {
        let bytes = BASE64URL_NOPAD
            .decode(seed.trim().as_bytes())
            .map_err(|_| DeviceKeyError::PublicKey)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| DeviceKeyError::PublicKey)?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The seed, base64url, for the token's own file.
    pub fn seed_base64(&self) -> String {
        BASE64URL_NOPAD.encode(self.0.as_bytes())
    }

    /// The public half, to register with the server.
    pub fn public(&self) -> DevicePublicKey {
        DevicePublicKey(self.0.verifying_key())
    }

    /// Signs `message`; base64url.
    pub fn sign(&self, message: &[u8]) -> String {
        BASE64URL_NOPAD.encode(&self.0.sign(message).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_key_and_message() {
        let device = DeviceKeyPair::generate().expect("key");
        let other = DeviceKeyPair::generate().expect("key");
        let public = DevicePublicKey::parse(&device.public().to_base64()).expect("parse");
        let signature = device.sign(b"approve");
        assert_eq!(public.verify(b"approve", &signature), Ok(true));
        assert_eq!(public.verify(b"deny", &signature), Ok(false));
        assert_eq!(
            public.verify(b"approve", &other.sign(b"approve")),
            Ok(false)
        );
        assert_eq!(
            public.verify(b"approve", "not base64!"),
            Err(DeviceKeyError::Signature)
        );
    }

    #[test]
    fn the_seed_round_trips_and_bad_keys_are_refused() {
        let device = DeviceKeyPair::generate().expect("key");
        let again = DeviceKeyPair::from_seed_base64(&device.seed_base64()).expect("seed");
        assert_eq!(again.public(), device.public());
        assert_eq!(
            DevicePublicKey::parse("AAAA"),
            Err(DeviceKeyError::PublicKey)
        );
        // The identity point is a weak key: anything would "verify" under it.
        let identity = BASE64URL_NOPAD.encode(&{
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        });
        assert_eq!(
            DevicePublicKey::parse(&identity),
            Err(DeviceKeyError::PublicKey)
        );
        assert!(!format!("{device:?}").contains(&device.seed_base64()));
    }
}
