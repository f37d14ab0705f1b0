//! Signed results banks verify offline: Ed25519 (EdDSA) JWTs, keys published as a JWKS.
//!
//! A private key exists in clear only in memory; at rest it is sealed by the [`crate::Keyring`]
//! like token secrets. Each key has a `kid`; rotation keeps publishing old public keys until
//! every token they signed has expired.

use std::fmt;

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// A new or loaded signing key.
pub struct JwtSigningKey {
    kid: String,
    pkcs8_der: Vec<u8>,
    public_x: String,
}

impl fmt::Debug for JwtSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtSigningKey(kid={}, **redacted**)", self.kid)
    }
}

/// Why a key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Encoding the key or the token failed.
    #[error("signing: {0}")]
    Sign(String),
}

impl JwtSigningKey {
    /// A new Ed25519 key from the OS CSPRNG, with a random `kid`.
    pub fn generate() -> Result<Self, SigningError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SigningError::Random(e.to_string()))?;
        let mut kid = [0u8; 9];
        getrandom::fill(&mut kid).map_err(|e| SigningError::Random(e.to_string()))?;
        Self::from_seed(&format!("ed-{}", BASE64URL_NOPAD.encode(&kid)), seed)
    }

    /// A key from its 32-byte seed (as stored, after unsealing).
    pub fn from_seed(kid: &str, seed: [u8; 32]) -> Result<Self, SigningError> {
        let signing = SigningKey::from_bytes(&seed);
        let pkcs8_der = signing
            .to_pkcs8_der()
            .map_err(|e| SigningError::Sign(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(Self {
            kid: kid.to_owned(),
            pkcs8_der,
            public_x: BASE64URL_NOPAD.encode(signing.verifying_key().as_bytes()),
        })
    }

    /// The seed to seal and store.
    pub fn seed(&self) -> Result<[u8; 32], SigningError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let signing = SigningKey::from_pkcs8_der(&self.pkcs8_der)
            .map_err(|e| SigningError::Sign(e.to_string()))?;
        Ok(signing.to_bytes())
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key, base64url (the JWK `x`).
    pub fn public_x(&self) -> &str {
        &self.public_x
    }

    /// Signs `claims` as a compact JWT (`alg: EdDSA`, `typ: JWT`, `kid`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, SigningError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8_der))
            .map_err(|e| SigningError::Sign(e.to_string()))
    }
}

/// A public key as published in the JWKS.
pub fn jwk(kid: &str, public_x: &str) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": kid,
        "x": public_x,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn a_signed_token_verifies_with_the_published_key_only() {
        let key = JwtSigningKey::generate().unwrap();
        let token = key.sign(&serde_json::json!({ "sub": "usr_1", "aud": "jonan-shinkin", "exp": 4_000_000_000u64 })).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["jonan-shinkin"]);
        let decoding = DecodingKey::from_ed_components(key.public_x()).unwrap();
        let data =
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "usr_1");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
        let other = JwtSigningKey::generate().unwrap();
        let wrong = DecodingKey::from_ed_components(other.public_x()).unwrap();
        assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &wrong, &validation).is_err());
    }

    #[test]
    fn a_key_survives_sealing_through_its_seed() {
        let key = JwtSigningKey::generate().unwrap();
        let again = JwtSigningKey::from_seed(key.kid(), key.seed().unwrap()).unwrap();
        assert_eq!(again.public_x(), key.public_x());
        assert!(!format!("{key:?}").contains(key.public_x()));
    }
}
