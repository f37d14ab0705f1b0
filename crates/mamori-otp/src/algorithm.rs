//! The parameters that, with the secret, fully determine a token's codes.

use std::fmt;
use std::str::FromStr;

/// A parameter outside the range this crate accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The algorithm name is not SHA1, SHA256 or SHA512.
    #[error("unknown OTP algorithm (expected SHA1, SHA256 or SHA512)")]
    UnknownAlgorithm,
    /// The number of digits is outside 6..=8.
    #[error("OTP digits must be between 6 and 8, got {0}")]
    InvalidDigits(u8),
    /// The TOTP period is outside 1..=300 seconds.
    #[error("TOTP period must be between 1 and 300 seconds, got {0}")]
    InvalidPeriod(u32),
}

/// The HMAC hash function (RFC 6238 §1.2 allows SHA-1, SHA-256 and SHA-512).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// HMAC-SHA-1: what RFC 4226 defines and nearly every authenticator app and
    /// hardware token uses. SHA-1's collision weakness does not affect HMAC.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs and configuration: `"SHA1"`, `"SHA256"`, `"SHA512"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

impl FromStr for Algorithm {
    type Err = ParamError;

    /// Accepts `SHA1`, `SHA256`, `SHA512` in any letter case (authenticator apps and
    /// hand-written configuration disagree on case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Sha1, Self::Sha256, Self::Sha512]
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s))
            .ok_or(ParamError::UnknownAlgorithm)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Number of digits in a code, 6 to 8.
///
/// RFC 4226 §5.3 requires at least 6. The truncated value has only 31 bits, so beyond 8
/// digits some codes would be half again as likely as others; no common token shows more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digits(u8);

impl Digits {
    /// Fewest digits accepted.
    pub const MIN: u8 = 6;
    /// Most digits accepted.
    pub const MAX: u8 = 8;
    /// Six digits, Mamori's default.
    pub const SIX: Self = Self(6);
    /// Eight digits, as in RFC 6238 Appendix B.
    pub const EIGHT: Self = Self(8);

    /// Validates a digit count.
    pub const fn new(digits: u8) -> Result<Self, ParamError> {
        if digits >= Self::MIN && digits <= Self::MAX {
            Ok(Self(digits))
        } else {
            Err(ParamError::InvalidDigits(digits))
        }
    }

    /// The digit count.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// `10^digits`: the truncated value is reduced modulo this.
    pub(crate) const fn modulus(self) -> u32 {
        10u32.pow(self.0 as u32)
    }
}

impl Default for Digits {
    fn default() -> Self {
        Self::SIX
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// TOTP time step in seconds, 1 to 300 (RFC 6238's "X"; the default is 30).
///
/// The upper bound keeps a code from living long enough to be phished at leisure; the
/// lower bound avoids a division by zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period(u32);

impl Period {
    /// Shortest period accepted, in seconds.
    pub const MIN: u32 = 1;
    /// Longest period accepted, in seconds.
    pub const MAX: u32 = 300;
    /// Thirty seconds, the RFC 6238 recommendation and Mamori's default.
    pub const THIRTY: Self = Self(30);

    /// Validates a period in seconds.
    pub const fn new(seconds: u32) -> Result<Self, ParamError> {
        if seconds >= Self::MIN && seconds <= Self::MAX {
            Ok(Self(seconds))
        } else {
            Err(ParamError::InvalidPeriod(seconds))
        }
    }

    /// The period in seconds.
    pub const fn seconds(self) -> u32 {
        self.0
    }
}

impl Default for Period {
    fn default() -> Self {
        Self::THIRTY
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything besides the secret that determines a token's codes.
///
/// `Default` is HMAC-SHA1, 6 digits, 30 seconds: what Google Authenticator and most
/// tokens assume when an `otpauth://` URI omits the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OtpParams {
    /// HMAC hash function.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: Digits,
    /// TOTP time step; ignored by HOTP.
    pub period: Period,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_in_any_case() {
        for alg in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.as_str().to_lowercase().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
        assert_eq!("Sha256".parse::<Algorithm>(), Ok(Algorithm::Sha256));
    }

    #[test]
    fn algorithm_rejects_other_names() {
        for name in ["", "MD5", "SHA-1", "SHA384", " SHA1", "SHA1 "] {
            assert_eq!(name.parse::<Algorithm>(), Err(ParamError::UnknownAlgorithm));
        }
    }

    #[test]
    fn digits_range() {
        assert!(Digits::new(5).is_err());
        assert_eq!(Digits::new(6).map(Digits::get), Ok(6));
        assert_eq!(Digits::new(8).map(Digits::get), Ok(8));
        assert_eq!(Digits::new(9), Err(ParamError::InvalidDigits(9)));
        assert_eq!(Digits::EIGHT.modulus(), 100_000_000);
    }

    #[test]
    fn period_range() {
        assert_eq!(Period::new(0), Err(ParamError::InvalidPeriod(0)));
        assert_eq!(Period::new(1).map(Period::seconds), Ok(1));
        assert_eq!(Period::new(300).map(Period::seconds), Ok(300));
        assert!(Period::new(301).is_err());
    }

    #[test]
    fn default_params_are_sha1_six_thirty() {
        let params = OtpParams::default();
        assert_eq!(params.algorithm, Algorithm::Sha1);
        assert_eq!(params.digits.get(), 6);
        assert_eq!(params.period.seconds(), 30);
    }
}
