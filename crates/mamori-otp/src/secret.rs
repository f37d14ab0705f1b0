//! The shared HMAC key between a token and the server.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use subtle::ConstantTimeEq;

use crate::text::{fold_width, is_blank};

/// A secret that cannot be used: too short, too long, not base32, or not obtainable.
///
/// No variant carries the secret or the text it came from, so these errors are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Fewer than [`Secret::MIN_LEN`] bytes.
    #[error("secret is {actual} bytes; at least {min} are required (RFC 4226 §4)")]
    TooShort {
        /// Required minimum.
        min: usize,
        /// Length given.
        actual: usize,
    },
    /// More than [`Secret::MAX_LEN`] bytes.
    #[error("secret is {actual} bytes; at most {max} are accepted")]
    TooLong {
        /// Accepted maximum.
        max: usize,
        /// Length given.
        actual: usize,
    },
    /// The text is not RFC 4648 base32.
    #[error("secret is not valid base32")]
    InvalidBase32,
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable: {0}")]
    Randomness(getrandom::Error),
}

/// An HOTP/TOTP secret key.
///
/// `Debug` never shows the bytes, so a `Secret` inside a logged struct does not leak.
/// Equality is constant-time in the contents.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Length of a generated secret: 160 bits, the length RFC 4226 §4 recommends and
    /// the HMAC-SHA1 output size.
    pub const GENERATED_LEN: usize = 20;
    /// Shortest accepted secret: RFC 4226 §4 requires at least 128 bits.
    pub const MIN_LEN: usize = 16;
    /// Longest accepted secret. HMAC would hash anything longer than the SHA-512 block
    /// down first, so longer keys add nothing but storage.
    pub const MAX_LEN: usize = 128;

    /// Draws a new 160-bit secret from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = vec![0u8; Self::GENERATED_LEN];
        getrandom::fill(&mut bytes).map_err(SecretError::Randomness)?;
        Ok(Self(bytes))
    }

    /// Wraps existing key bytes (for example a secret unsealed from storage).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        check_len(bytes.len())?;
        Ok(Self(bytes.to_vec()))
    }

    /// The key bytes, for HMAC and for sealing at rest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of key bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a secret has at least [`Secret::MIN_LEN`] bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// RFC 4648 base32, uppercase, without `=` padding: the form authenticator apps
    /// expect in `otpauth://` URIs and for manual entry.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// Parses base32 as people copy it: lower or upper case, full-width letters and
    /// digits, blanks anywhere (apps often show the key in groups of four), and
    /// optional trailing `=` padding.
    pub fn from_base32(text: &str) -> Result<Self, SecretError> {
        let compact: String = text
            .chars()
            .filter(|&c| !is_blank(c))
            .map(|c| fold_width(c).to_ascii_uppercase())
            .collect();
        let unpadded = compact.trim_end_matches('=');
        let bytes = BASE32_NOPAD
            .decode(unpadded.as_bytes())
            .map_err(|_| SecretError::InvalidBase32)?;
        Self::from_bytes(&bytes)
    }
}

fn check_len(actual: usize) -> Result<(), SecretError> {
    if actual < Secret::MIN_LEN {
        Err(SecretError::TooShort {
            min: Secret::MIN_LEN,
            actual,
        })
    } else if actual > Secret::MAX_LEN {
        Err(SecretError::TooLong {
            max: Secret::MAX_LEN,
            actual,
        })
    } else {
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(**redacted**, {} bytes)", self.0.len())
    }
}

impl PartialEq for Secret {
    /// Constant-time in the contents; the length is not treated as secret.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::from_bytes(RFC_SECRET).unwrap();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "Secret(**redacted**, 20 bytes)");
        assert!(!shown.contains("1234"));
    }

    #[test]
    fn base32_round_trip() {
        let secret = Secret::from_bytes(RFC_SECRET).unwrap();
        let text = secret.to_base32();
        assert_eq!(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(Secret::from_base32(&text).unwrap(), secret);
    }

    #[test]
    fn base32_accepts_what_people_paste() {
        let expected = Secret::from_bytes(RFC_SECRET).unwrap();
        for text in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            "GEZD\tGNBV\u{3000}GY3TQOJQGEZDGNBVGY3TQOJQ",
            "ＧＥＺＤＧＮＢＶＧＹ３ＴＱＯＪＱＧＥＺＤＧＮＢＶＧＹ３ＴＱＯＪＱ",
        ] {
            assert_eq!(Secret::from_base32(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn base32_accepts_padding() {
        // 16 bytes encode to 26 characters plus 6 padding characters.
        let secret = Secret::from_bytes(&[0xA5; 16]).unwrap();
        let padded = data_encoding::BASE32.encode(secret.as_bytes());
        assert!(padded.ends_with("======"));
        assert_eq!(Secret::from_base32(&padded).unwrap(), secret);
    }

    #[test]
    fn base32_rejects_garbage() {
        for text in [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            "GEZDGNBV-GY3TQOJQ",
            "!!!",
        ] {
            assert_eq!(Secret::from_base32(text), Err(SecretError::InvalidBase32));
        }
    }

    #[test]
    fn length_limits() {
        assert_eq!(
            Secret::from_bytes(&[0; 15]),
            Err(SecretError::TooShort {
                min: 16,
                actual: 15
            })
        );
        assert!(Secret::from_bytes(&[0; 16]).is_ok());
        assert!(Secret::from_bytes(&[0; 128]).is_ok());
        assert_eq!(
            Secret::from_bytes(&[0; 129]),
            Err(SecretError::TooLong {
                max: 128,
                actual: 129
            })
        );
        // The classic 80-bit demo key is below RFC 4226's minimum.
        assert!(matches!(
            Secret::from_base32("JBSWY3DPEHPK3PXP"),
            Err(SecretError::TooShort { actual: 10, .. })
        ));
    }
}
