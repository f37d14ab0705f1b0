//! One-time codes: turning what a user typed into a [`Code`], and comparing codes in
//! constant time.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};

use crate::algorithm::Digits;
use crate::text::{fold_width, is_blank};

/// A typed code that cannot be a code of the expected length. Both variants mean
/// "malformed": the caller should reject the input without trying it against a secret
/// (and, by its own policy, may decide not to count it as a failed attempt).
///
/// Neither variant carries the input, so these errors are safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Something other than a digit or a blank: a letter, a sign, a circled or
    /// non-Latin digit.
    #[error("code must contain only the digits 0-9")]
    NotDigits,
    /// Only digits, but not as many as the token shows.
    #[error("code must have {expected} digits, got {actual}")]
    WrongLength {
        /// The token's digit count.
        expected: u8,
        /// Digits found after removing blanks.
        actual: usize,
    },
}

/// A one-time code: 6 to 8 ASCII digits, leading zeros included (`"081804"` is not
/// `"81804"`).
///
/// Codes are credentials while they are valid, so `Debug` is redacted and there is no
/// `Display`; use [`Code::as_str`] where the code must really be shown or sent.
/// Equality ([`Code::ct_eq`] and `==`) takes the same time whatever the contents.
#[derive(Clone, Copy)]
pub struct Code {
    // Fixed-size storage so every comparison is over the same 8 bytes; the unused tail
    // is always zero, which keeps equal codes byte-for-byte equal.
    digits: [u8; Digits::MAX as usize],
    len: u8,
}

impl Code {
    /// Builds the code for a truncated HOTP value: `value mod 10^digits`, zero-padded.
    pub(crate) fn from_truncated(value: u32, digits: Digits) -> Self {
        let mut code = Self {
            digits: [0; Digits::MAX as usize],
            len: digits.get(),
        };
        let mut rest = value % digits.modulus();
        for slot in code.digits[..usize::from(digits.get())].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        code
    }

    /// The digits as text, for showing the code on a token or sending it in a request.
    /// Never log it.
    pub fn as_str(&self) -> &str {
        // Every stored byte is an ASCII digit, so this never falls back.
        std::str::from_utf8(self.used()).unwrap_or_default()
    }

    /// Number of digits in this code.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always `false`: a code has at least six digits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Compares two codes in constant time. Codes of different lengths are unequal,
    /// still without an early exit.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.ct_choice(other).into()
    }

    /// The comparison as a [`Choice`], so window searches can fold results together
    /// without branching on them.
    pub(crate) fn ct_choice(&self, other: &Self) -> Choice {
        // `subtle`'s slice comparison returns early on a length mismatch, so compare the
        // whole fixed-size arrays and fold the length in separately.
        self.digits.as_slice().ct_eq(other.digits.as_slice()) & self.len.ct_eq(&other.len)
    }

    fn used(&self) -> &[u8] {
        &self.digits[..self.len()]
    }
}

impl PartialEq for Code {
    /// Constant-time; see [`Code::ct_eq`].
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for Code {}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code(**redacted**, {} digits)", self.len)
    }
}

/// Turns what a user typed into a code of exactly `digits` digits.
///
/// Accepted: ASCII digits and full-width digits (U+FF10..=U+FF19), with spaces, tabs
/// and ideographic spaces (U+3000) anywhere, since Japanese input methods produce all of
/// these and tokens display codes in groups (`"123 456"`).
///
/// Rejected as [`CodeError::NotDigits`]: everything else, deliberately including signs
/// (`"+12345"`, which `str::parse` would accept), other scripts' digits (`"١٢٣٤٥٦"`, which
/// `char::is_numeric` would accept) and circled digits (`"①②③④⑤⑥"`, which NFKC would
/// turn into digits). Rejected as [`CodeError::WrongLength`]: the wrong number of digits,
/// including none at all.
pub fn normalize_code(input: &str, digits: Digits) -> Result<Code, CodeError> {
    let mut code = Code {
        digits: [0; Digits::MAX as usize],
        len: digits.get(),
    };
    let mut count = 0usize;
    for c in input.chars().filter(|&c| !is_blank(c)) {
        let c = fold_width(c);
        if !c.is_ascii_digit() {
            return Err(CodeError::NotDigits);
        }
        // Keep counting past the end so the error reports the real length.
        if let Some(slot) = code.digits[..usize::from(digits.get())].get_mut(count) {
            *slot = c as u8;
        }
        count += 1;
    }
    if count == usize::from(digits.get()) {
        Ok(code)
    } else {
        Err(CodeError::WrongLength {
            expected: digits.get(),
            actual: count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn six(input: &str) -> Result<Code, CodeError> {
        normalize_code(input, Digits::SIX)
    }

    #[test]
    fn truncated_values_keep_leading_zeros() {
        assert_eq!(
            Code::from_truncated(1_081_804, Digits::SIX).as_str(),
            "081804"
        );
        assert_eq!(
            Code::from_truncated(7_081_804, Digits::EIGHT).as_str(),
            "07081804"
        );
        assert_eq!(Code::from_truncated(0, Digits::SIX).as_str(), "000000");
    }

    #[test]
    fn debug_is_redacted() {
        let code = six("081804").unwrap();
        assert_eq!(format!("{code:?}"), "Code(**redacted**, 6 digits)");
    }

    #[test]
    fn equality_needs_same_digits_and_length() {
        let a = six("123456").unwrap();
        assert!(a.ct_eq(&six("123 456").unwrap()));
        assert!(!a.ct_eq(&six("123457").unwrap()));
        let seven = normalize_code("1234560", Digits::new(7).unwrap()).unwrap();
        assert!(!a.ct_eq(&seven));
        assert_ne!(a, seven);
    }

    #[test]
    fn generated_and_typed_codes_compare_equal() {
        let generated = Code::from_truncated(1_284_755_224, Digits::SIX);
        assert_eq!(generated, six("７５５２２４").unwrap());
    }

    #[test]
    fn too_long_input_reports_its_length() {
        assert_eq!(
            six("1234567890"),
            Err(CodeError::WrongLength {
                expected: 6,
                actual: 10
            })
        );
    }
}
