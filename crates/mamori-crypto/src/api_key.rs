//! Banks' API keys: generated from the OS CSPRNG, shown once, stored only as a hash, found by
//! their public prefix and compared in constant time.

use std::fmt;

use data_encoding::{BASE32_NOPAD, HEXLOWER};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::keyring::KeyError;

/// A bank's API key, as shown once at creation: `mmr_<prefix>_<secret>`.
///
/// The prefix (public, 8 characters) finds the key's row; the secret (160 random bits) is only
/// ever stored as SHA-256. A plain hash is enough here because the secret is random and long,
/// unlike a password, so there is nothing to brute-force.
#[derive(Clone)]
pub struct ApiKey {
    prefix: String,
    secret: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(mmr_{}_**redacted**)", self.prefix)
    }
}

/// Why a presented key is not of the API-key form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Mamori API key")]
pub struct ApiKeyParseError;

/// The stored hash of an API key's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyHash(pub String);

impl ApiKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut prefix = [0u8; 5];
        let mut secret = [0u8; 20];
        getrandom::fill(&mut prefix).map_err(|e| KeyError::Random(e.to_string()))?;
        getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            prefix: BASE32_NOPAD.encode(&prefix).to_ascii_lowercase(),
            secret: BASE32_NOPAD.encode(&secret).to_ascii_lowercase(),
        })
    }

    /// Parses a presented key.
    pub fn parse(text: &str) -> Result<Self, ApiKeyParseError> {
        let rest = text.strip_prefix("mmr_").ok_or(ApiKeyParseError)?;
        let (prefix, secret) = rest.split_once('_').ok_or(ApiKeyParseError)?;
        let ok = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        };
        if ok(prefix, 8) && ok(secret, 32) {
            Ok(Self {
                prefix: prefix.to_owned(),
                secret: secret.to_owned(),
            })
        } else {
            Err(ApiKeyParseError)
        }
    }

    /// The public part that identifies the key's row.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full key, to show the bank once.
    pub fn reveal(&self) -> String {
        format!("mmr_{}_{}", self.prefix, self.secret)
    }

    /// The hash to store.
    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash(HEXLOWER.encode(&Sha256::digest(self.secret.as_bytes())))
    }

    /// Whether this key matches a stored hash, compared in constant time.
    pub fn matches(&self, stored: &ApiKeyHash) -> bool {
        let mine = Sha256::digest(self.secret.as_bytes());
        let Ok(theirs) = HEXLOWER.decode(stored.0.as_bytes()) else {
            return false;
        };
        let Ok(theirs): Result<[u8; 32], _> = theirs.try_into() else {
            return false;
        };
        bool::from(mine.as_slice().ct_eq(&theirs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_and_matches_only_its_hash() {
        let key = ApiKey::generate().unwrap();
        let shown = key.reveal();
        let parsed = ApiKey::parse(&shown).unwrap();
        assert!(parsed.matches(&key.hash()));
        let other = ApiKey::generate().unwrap();
        assert!(!other.matches(&key.hash()));
        assert!(
            !key.hash().0.contains(&shown[13..]),
            "the hash is not the secret"
        );
        assert!(!format!("{key:?}").contains(&shown[13..]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "mmr_",
            "mmr_abc_def",
            "xyz_aaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "mmr_AAAAAAAA_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(ApiKey::parse(bad).is_err(), "{bad}");
        }
    }
}
