//! Credential IDs: the public name of a token that a customer reads off their phone
//! and types into their bank's site.
//!
//! # Format
//!
//! Four uppercase ASCII letters (the issuer prefix), seven serial digits and one check
//! digit: `MAMO00001234` is prefix `MAMO`, serial `0000123`, check digit `4`.
//!
//! # Check digit
//!
//! The check digit lets a bank's site reject a mistyped ID before any OTP is tried, so
//! a typo neither reaches the server nor counts as a failed attempt. Banks may implement
//! the check client-side; it is:
//!
//! 1. Replace each of the four letters by its two-digit value `A=10, B=11, ... Z=35`
//!    and append the seven serial digits: `MAMO0000123` → `22 10 22 24 0000123` →
//!    the 15 digits `221022240000123`.
//! 2. Run the [Damm algorithm] over those digits: start with `interim = 0`, and for each
//!    digit `d` set `interim = TABLE[interim][d]` using the table below.
//! 3. The final `interim` is the check digit (`4` here). Equivalently, an ID is valid
//!    when running the same loop over all 16 digits, check digit included, ends at 0.
//!
//! ```text
//!         d: 0 1 2 3 4 5 6 7 8 9
//! interim 0: 0 3 1 7 5 9 8 6 4 2
//!         1: 7 0 9 2 1 5 4 8 6 3
//!         2: 4 2 0 6 8 7 1 3 5 9
//!         3: 1 7 5 0 9 8 3 4 2 6
//!         4: 6 1 2 3 0 4 5 9 7 8
//!         5: 3 6 7 4 2 0 9 5 8 1
//!         6: 5 8 6 9 7 2 0 1 3 4
//!         7: 8 9 4 5 3 6 2 0 1 7
//!         8: 9 4 3 8 6 1 7 2 0 5
//!         9: 2 5 8 1 4 3 6 7 9 0
//! ```
//!
//! Damm catches every single wrong digit and every swap of two adjacent digits in the
//! serial and check digit. A mistake in the letters is caught only most of the time
//! (about nine in ten): a letter stands for two digits, and no single decimal check
//! digit can tell 26 letters apart. Callers should therefore also check that the prefix
//! is one they issue.
//!
//! Before validation, input is normalised the way customers type it: full-width
//! characters become ASCII, lowercase becomes uppercase, and blanks and hyphen-like
//! characters (including the katakana long-vowel mark `ー`, easily typed for a hyphen)
//! are removed.
//!
//! [Damm algorithm]: https://en.wikipedia.org/wiki/Damm_algorithm

use std::fmt;
use std::str::FromStr;

use crate::text::{fold_width, is_blank};

/// A credential ID that is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialIdError {
    /// Not four letters followed by eight digits, after normalisation.
    #[error("credential ID must be 4 letters followed by 8 digits")]
    Malformed,
    /// The right shape, but the check digit does not match: almost certainly a typo.
    #[error("credential ID check digit does not match; please re-check the ID")]
    CheckDigit,
    /// The prefix given to generate an ID is not four uppercase ASCII letters.
    #[error("credential ID prefix must be 4 uppercase letters A-Z")]
    InvalidPrefix,
    /// The serial given to generate an ID has more than seven digits.
    #[error("credential ID serial must be below 10000000, got {0}")]
    SerialOutOfRange(u64),
    /// The operating system's random number generator failed.
    #[error("operating system randomness unavailable: {0}")]
    Randomness(getrandom::Error),
}

/// A validated credential ID such as `MAMO00001234`: always 12 ASCII characters,
/// uppercase, with a correct check digit.
///
/// Credential IDs are public identifiers, not secrets, so `Debug` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(String);

impl CredentialId {
    /// Length of an ID in characters.
    pub const LEN: usize = 12;
    /// Length of the letter prefix.
    pub const PREFIX_LEN: usize = 4;
    /// Serials are below this (seven digits).
    pub const SERIAL_LIMIT: u64 = 10_000_000;

    /// Normalises what a customer typed (see the [module docs](self)) and validates it.
    pub fn parse(input: &str) -> Result<Self, CredentialIdError> {
        let id = normalize(input);
        let (prefix, digits) = split(&id).ok_or(CredentialIdError::Malformed)?;
        if damm(expand(prefix, digits)) == 0 {
            Ok(Self(id))
        } else {
            Err(CredentialIdError::CheckDigit)
        }
    }

    /// Builds the ID for `prefix` (four uppercase letters) and `serial` (below
    /// 10 000 000), appending the check digit.
    pub fn generate(prefix: &str, serial: u64) -> Result<Self, CredentialIdError> {
        if prefix.len() != Self::PREFIX_LEN || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CredentialIdError::InvalidPrefix);
        }
        if serial >= Self::SERIAL_LIMIT {
            return Err(CredentialIdError::SerialOutOfRange(serial));
        }
        let body = format!("{prefix}{serial:07}");
        let check = damm(expand(prefix, &body[Self::PREFIX_LEN..]));
        Ok(Self(format!("{body}{check}")))
    }

    /// Builds an ID for `prefix` with a uniformly random serial from the operating
    /// system's CSPRNG. The caller must still make sure the ID is not already taken.
    pub fn random(prefix: &str) -> Result<Self, CredentialIdError> {
        Self::generate(prefix, random_serial()?)
    }

    /// The ID as text, e.g. `"MAMO00001234"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The four-letter issuer prefix.
    pub fn prefix(&self) -> &str {
        &self.0[..Self::PREFIX_LEN]
    }

    /// The seven-digit serial, without prefix or check digit.
    pub fn serial(&self) -> u64 {
        self.0[Self::PREFIX_LEN..Self::LEN - 1]
            .bytes()
            .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'))
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CredentialId {
    type Err = CredentialIdError;

    /// Same as [`CredentialId::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The serial of an imported hardware token, which is its credential ID: 4 to 32 letters and
/// digits, normalised as a typed credential ID is. Vendors print serials with no Mamori
/// check digit, so nothing but the credential table can tell a serial from a typo.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenSerial(String);

impl TokenSerial {
    /// Shortest accepted serial.
    pub const MIN_LEN: usize = 4;
    /// Longest accepted serial.
    pub const MAX_LEN: usize = 32;

    /// Normalises `input` (full-width to ASCII, uppercase, blanks and hyphens removed) and
    /// checks it is 4 to 32 ASCII letters and digits.
    pub fn parse(input: &str) -> Result<Self, CredentialIdError> {
        let serial = normalize_to(input, Self::MAX_LEN + 1);
        let well_formed = (Self::MIN_LEN..=Self::MAX_LEN).contains(&serial.len())
            && serial.bytes().all(|b| b.is_ascii_alphanumeric());
        if well_formed {
            Ok(Self(serial))
        } else {
            Err(CredentialIdError::Malformed)
        }
    }

    /// The serial as stored, e.g. `"987654321"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential ID as a bank or customer sent it: one Mamori issued, or what may be the serial
/// of an imported hardware token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedCredentialId {
    /// A well-formed Mamori ID with a correct check digit.
    Issued(CredentialId),
    /// Not a Mamori ID, for the reason given, but shaped like a serial: it names a credential
    /// only if a token with this serial was imported, and is otherwise that reason's error.
    Serial {
        /// The normalised serial.
        serial: TokenSerial,
        /// Why it is not a Mamori ID.
        not_issued: CredentialIdError,
    },
}

impl TypedCredentialId {
    /// A Mamori ID if `input` is one; else a serial if it has the shape of one; else the reason
    /// it is not a Mamori ID.
    pub fn parse(input: &str) -> Result<Self, CredentialIdError> {
        match CredentialId::parse(input) {
            Ok(id) => Ok(Self::Issued(id)),
            Err(not_issued) => TokenSerial::parse(input)
                .map(|serial| Self::Serial { serial, not_issued })
                .map_err(|_| not_issued),
        }
    }

    /// The text to look the credential up by.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Issued(id) => id.as_str(),
            Self::Serial { serial, .. } => serial.as_str(),
        }
    }
}

/// Hyphen-like characters customers type between groups: ASCII hyphen-minus, the
/// Unicode hyphens and dashes U+2010..=U+2015, the minus sign, the full-width
/// hyphen-minus, and the katakana long-vowel marks (full- and half-width), which Japanese
/// input methods produce when a hyphen is typed in kana mode.
fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FF0D}' | '\u{30FC}' | '\u{FF70}'
    )
}

fn normalize(input: &str) -> String {
    // One character more than an ID is enough to know it is too long, and stops absurd input
    // from being copied whole.
    normalize_to(input, CredentialId::LEN + 1)
}

fn normalize_to(input: &str, max_chars: usize) -> String {
    input
        .chars()
        .filter(|&c| !is_blank(c) && !is_hyphen(c))
        .map(|c| fold_width(c).to_ascii_uppercase())
        .take(max_chars)
        .collect()
}

/// Splits a normalised ID into its letters and its eight digits, if it has that shape.
fn split(id: &str) -> Option<(&str, &str)> {
    let well_formed = id.len() == CredentialId::LEN
        && id.bytes().enumerate().all(|(i, b)| {
            if i < CredentialId::PREFIX_LEN {
                b.is_ascii_uppercase()
            } else {
                b.is_ascii_digit()
            }
        });
    well_formed.then(|| id.split_at(CredentialId::PREFIX_LEN))
}

/// The digit sequence the check digit is computed over: each letter as two digits
/// (A=10 .. Z=35), then the given ASCII digits.
fn expand<'a>(letters: &'a str, digits: &'a str) -> impl Iterator<Item = u8> + 'a {
    let letter_digits = letters.bytes().flat_map(|b| {
        let value = b - b'A' + 10;
        [value / 10, value % 10]
    });
    letter_digits.chain(digits.bytes().map(|b| b - b'0'))
}

/// The Damm algorithm's final interim digit over `digits` (each 0..=9).
fn damm(digits: impl IntoIterator<Item = u8>) -> u8 {
    // A totally anti-symmetric quasigroup of order 10 (Damm 2004), as published.
    const TABLE: [[u8; 10]; 10] = [
        [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
        [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
        [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
        [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
        [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
        [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
        [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
        [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
        [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
        [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ];
    digits
        .into_iter()
        .fold(0, |interim, d| TABLE[usize::from(interim)][usize::from(d)])
}

/// A uniformly distributed serial below [`CredentialId::SERIAL_LIMIT`].
fn random_serial() -> Result<u64, CredentialIdError> {
    // Rejection sampling: values at or above the largest multiple of the limit would make
    // low serials slightly more likely than high ones.
    const SPACE: u64 = 1 << 32;
    const ZONE: u64 = SPACE - SPACE % CredentialId::SERIAL_LIMIT;
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(CredentialIdError::Randomness)?;
        let value = u64::from(u32::from_be_bytes(bytes));
        if value < ZONE {
            return Ok(value % CredentialId::SERIAL_LIMIT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damm_reference_example() {
        // The worked example from Damm's paper and Wikipedia: 572 → check digit 4.
        assert_eq!(damm([5, 7, 2]), 4);
        assert_eq!(damm([5, 7, 2, 4]), 0);
    }

    #[test]
    fn module_doc_example() {
        let digits: Vec<u8> = expand("MAMO", "0000123").collect();
        assert_eq!(digits, [2, 2, 1, 0, 2, 2, 2, 4, 0, 0, 0, 0, 1, 2, 3]);
        let id = CredentialId::generate("MAMO", 123).unwrap();
        assert_eq!(id.as_str(), "MAMO00001234");
        assert_eq!(id.prefix(), "MAMO");
        assert_eq!(id.serial(), 123);
    }

    #[test]
    fn generate_rejects_bad_prefix_and_serial() {
        for prefix in ["MAM", "MAMOX", "mamo", "MA1O", "ＭＡＭＯ", ""] {
            assert_eq!(
                CredentialId::generate(prefix, 1),
                Err(CredentialIdError::InvalidPrefix),
                "{prefix}"
            );
        }
        assert!(CredentialId::generate("MAMO", 9_999_999).is_ok());
        assert_eq!(
            CredentialId::generate("MAMO", 10_000_000),
            Err(CredentialIdError::SerialOutOfRange(10_000_000))
        );
    }

    #[test]
    fn random_ids_validate() {
        for _ in 0..50 {
            let id = CredentialId::random("MAMO").unwrap();
            assert_eq!(CredentialId::parse(id.as_str()), Ok(id.clone()));
            assert!(id.serial() < CredentialId::SERIAL_LIMIT);
        }
    }

    #[test]
    fn serials_are_normalised_like_ids_and_need_no_check_digit() {
        let serial = TokenSerial::parse(" ft-2000 ０１２３4 ").unwrap();
        assert_eq!(serial.as_str(), "FT200001234");
        for bad in ["ABC", "", "SN/12345", "ＳＮ＿1234", &"9".repeat(33)] {
            assert_eq!(
                TokenSerial::parse(bad),
                Err(CredentialIdError::Malformed),
                "{bad}"
            );
        }
        assert!(TokenSerial::parse(&"9".repeat(32)).is_ok());
    }

    #[test]
    fn typed_ids_are_mamori_ids_first_then_serials() {
        let id = CredentialId::generate("MAMO", 123).unwrap();
        assert_eq!(
            TypedCredentialId::parse("mamo-0000-1234"),
            Ok(TypedCredentialId::Issued(id))
        );
        // A typo of a Mamori ID is serial-shaped: it names a credential only if imported.
        let typo = TypedCredentialId::parse("MAMO00001235").unwrap();
        assert_eq!(typo.as_str(), "MAMO00001235");
        assert!(matches!(
            typo,
            TypedCredentialId::Serial {
                not_issued: CredentialIdError::CheckDigit,
                ..
            }
        ));
        let vendor = TypedCredentialId::parse("987654321").unwrap();
        assert!(matches!(
            vendor,
            TypedCredentialId::Serial {
                not_issued: CredentialIdError::Malformed,
                ..
            }
        ));
        assert_eq!(
            TypedCredentialId::parse("MAM"),
            Err(CredentialIdError::Malformed)
        );
    }

    #[test]
    fn long_input_is_malformed_not_copied() {
        let long = "MAMO00001234".repeat(1000);
        assert_eq!(normalize(&long).len(), 13);
        assert_eq!(
            CredentialId::parse(&long),
            Err(CredentialIdError::Malformed)
        );
    }
}
