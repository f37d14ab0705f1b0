//! Credential IDs (`mamori_otp::CredentialId`, `TokenSerial`, `TypedCredentialId`): what a
//! customer or bank typed, normalised and checked with the Damm check digit.
//!
//! Input: the typed text as UTF-8. Its first eight bytes also make a prefix and a serial for
//! the generate-then-read direction.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_fuzz::{spec, text};
use mamori_otp::{CredentialId, CredentialIdError, TokenSerial, TypedCredentialId};

fuzz_target!(|data: &[u8]| {
    if let Some(typed) = text(data) {
        typed_text(typed);
    }
    if let Some(seed) = data.first_chunk::<8>() {
        generated(seed);
    }
});

fn typed_text(typed: &str) {
    let issued = CredentialId::parse(typed);
    match &issued {
        Ok(id) => issued_properties(typed, id),
        Err(error) => {
            let expected = if shaped_like_an_id(typed) {
                CredentialIdError::CheckDigit
            } else {
                CredentialIdError::Malformed
            };
            assert_eq!(*error, expected, "{typed:?}");
        }
    }

    match TypedCredentialId::parse(typed) {
        Ok(found) => {
            // What is looked up reads back as itself: the lookup key is a normal form.
            assert_eq!(TypedCredentialId::parse(found.as_str()), Ok(found.clone()));
            match &found {
                TypedCredentialId::Issued(id) => assert_eq!(Ok(id), issued.as_ref()),
                TypedCredentialId::Serial { serial, not_issued } => {
                    assert_eq!(Err(not_issued), issued.as_ref());
                    let s = serial.as_str();
                    assert!((4..=32).contains(&s.len()), "{s:?}");
                    assert!(
                        s.bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    );
                    assert_eq!(TokenSerial::parse(s).as_ref(), Ok(serial));
                }
            }
            assert!(
                spec::admits("RegisterCredentialRequest", "credential_id", typed),
                "the spec's credential_name pattern refuses {typed:?}, which the server accepts"
            );
        }
        Err(error) => {
            // Neither an ID nor a serial: the ID's reason is the one given.
            assert_eq!(Err(error), issued.map(drop));
            assert!(TokenSerial::parse(typed).is_err());
        }
    }
}

fn issued_properties(typed: &str, id: &CredentialId) {
    let s = id.as_str();
    assert_eq!(s.len(), CredentialId::LEN);
    assert!(s[..4].bytes().all(|b| b.is_ascii_uppercase()), "{s}");
    assert!(s[4..].bytes().all(|b| b.is_ascii_digit()), "{s}");
    assert_eq!(CredentialId::parse(s).as_ref(), Ok(id));
    assert_eq!(id.to_string(), s);
    assert_eq!(
        CredentialId::generate(id.prefix(), id.serial()).as_ref(),
        Ok(id)
    );
    every_typo_is_caught(id);
    assert!(
        spec::admits("AnswerRequest", "credential_id", typed),
        "the spec's credential_id pattern refuses {typed:?}, which the server accepts"
    );
}

/// The module's promise: one wrong digit, or two adjacent digits swapped, anywhere in the
/// serial and check digit, is refused as a check-digit mistake.
fn every_typo_is_caught(id: &CredentialId) {
    let bytes = id.as_str().as_bytes();
    for at in CredentialId::PREFIX_LEN..CredentialId::LEN {
        for digit in b'0'..=b'9' {
            if digit != bytes[at] {
                let mut typo = bytes.to_vec();
                typo[at] = digit;
                let typo = String::from_utf8(typo).expect("ASCII");
                assert_eq!(
                    CredentialId::parse(&typo),
                    Err(CredentialIdError::CheckDigit),
                    "{typo} (from {id})"
                );
            }
        }
        if at + 1 < CredentialId::LEN && bytes[at] != bytes[at + 1] {
            let mut swapped = bytes.to_vec();
            swapped.swap(at, at + 1);
            let swapped = String::from_utf8(swapped).expect("ASCII");
            assert_eq!(
                CredentialId::parse(&swapped),
                Err(CredentialIdError::CheckDigit),
                "{swapped} (from {id})"
            );
        }
    }
}

/// After the documented normalisation, four ASCII letters and eight ASCII digits.
fn shaped_like_an_id(typed: &str) -> bool {
    let normal: Vec<char> = typed
        .chars()
        .filter(|c| {
            !matches!(
                c,
                ' ' | '\t' | '\u{3000}' | '-' | '\u{2010}'
                    ..='\u{2015}' | '\u{2212}' | '\u{FF0D}' | '\u{30FC}' | '\u{FF70}'
            )
        })
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                char::from_u32(u32::from(c) - 0xFEE0).expect("ASCII")
            }
            c => c,
        })
        .collect();
    normal.len() == CredentialId::LEN
        && normal[..4].iter().all(char::is_ascii_alphabetic)
        && normal[4..].iter().all(char::is_ascii_digit)
}

/// Generate an ID, then read it back as customers type it: lower case, hyphenated in groups of
/// four, full-width, with ideographic spaces.
fn generated(seed: &[u8; 8]) {
    let prefix: String = seed[..4]
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    let serial = u64::from(u32::from_le_bytes([seed[4], seed[5], seed[6], seed[7]]))
        % CredentialId::SERIAL_LIMIT;
    let id = CredentialId::generate(&prefix, serial).expect("a valid prefix and serial");
    assert_eq!((id.prefix(), id.serial()), (prefix.as_str(), serial));
    let s = id.as_str();
    let grouped = format!("{}-{}-{}", &s[..4], &s[4..8], &s[8..]);
    let wide: String = s
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).expect("full-width"))
        .collect();
    let spaced = format!("\u{3000}{} {}ー{}\t", &s[..4], &s[4..8], &s[8..]);
    for typed in [s.to_lowercase(), grouped, wide, spaced] {
        assert_eq!(CredentialId::parse(&typed).as_ref(), Ok(&id), "{typed:?}");
    }
}
