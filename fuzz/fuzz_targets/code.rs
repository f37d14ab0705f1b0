//! The OTP code normaliser (`mamori_otp::normalize_code`): what a customer typed, with
//! full-width digits and blanks, becomes a code of exactly the token's digit count or is
//! refused.
//!
//! Input: one byte choosing the digit count (`'6'`, `'7'`, `'8'`; any byte works, modulo 3),
//! then the typed text as UTF-8.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_fuzz::{spec, text};
use mamori_otp::{CodeError, Digits, normalize_code};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Some(typed) = text(rest) else {
        return;
    };
    let digits = Digits::new(6 + choice % 3).expect("6 to 8 digits");
    let normalised = normalize_code(typed, digits);

    // The documented rule, written out independently.
    assert_eq!(
        normalised.map(|code| code.as_str().to_owned()),
        model(typed, digits),
        "{typed:?} with {digits} digits"
    );

    if let Ok(code) = normalised {
        assert_eq!(code.len(), usize::from(digits.get()));
        assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
        // The normal form is a fixed point, and equal codes compare equal.
        assert_eq!(normalize_code(code.as_str(), digits), Ok(code));
        // A code of one length is never read as a code of another.
        for other in 6..=8 {
            if other != digits.get() {
                let other = Digits::new(other).expect("6 to 8");
                assert!(matches!(
                    normalize_code(typed, other),
                    Err(CodeError::WrongLength { .. })
                ));
            }
        }
        // The spec admits whatever the normaliser accepts (every `otp` field has one shape).
        assert!(
            spec::admits("OtpRequest", "otp", typed),
            "the spec's otp pattern refuses {typed:?}, which the server accepts"
        );
    }
});

/// `normalize_code` as its doc comment states it: blanks (space, tab, U+3000) dropped, ASCII
/// and full-width digits kept, anything else refused, then the count checked.
fn model(typed: &str, digits: Digits) -> Result<String, CodeError> {
    let mut code = String::new();
    for c in typed.chars() {
        match c {
            ' ' | '\t' | '\u{3000}' => {}
            '0'..='9' => code.push(c),
            '\u{FF10}'..='\u{FF19}' => {
                let value = u32::from(c) - 0xFF10;
                code.push(char::from_digit(value, 10).expect("a digit"));
            }
            _ => return Err(CodeError::NotDigits),
        }
    }
    if code.len() == usize::from(digits.get()) {
        Ok(code)
    } else {
        Err(CodeError::WrongLength {
            expected: digits.get(),
            actual: code.len(),
        })
    }
}
