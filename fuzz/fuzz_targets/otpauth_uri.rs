//! `otpauth://` URIs (`mamori_otp::OtpAuthUri`), both ways: what an authenticator app or a
//! vendor's file gives is read, and what Mamori writes into a QR code reads back as written.
//!
//! Input: the URI text as UTF-8 for the reading direction; the same bytes, taken as structured
//! data, make a token for the writing direction.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use mamori_fuzz::text;
use mamori_otp::{Algorithm, Digits, OtpAuthUri, OtpKind, OtpParams, Period, Secret, UriError};

fuzz_target!(|data: &[u8]| {
    if let Some(uri) = text(data) {
        read(uri);
    }
    write(&mut Unstructured::new(data));
});

/// A URI that reads is written back in Mamori's form, and that form reads to the same token and
/// writes to itself.
fn read(uri: &str) {
    let Ok(token) = OtpAuthUri::parse(uri) else {
        return;
    };
    assert!(!token.account.is_empty() && !token.account.contains(':'));
    assert!(!token.issuer.contains(':'));
    let written = token
        .to_uri()
        .unwrap_or_else(|e| panic!("{uri:?} reads but cannot be written: {e}"));
    assert_eq!(
        OtpAuthUri::parse(&written),
        Ok(as_written(token.clone())),
        "{uri:?} written as {written:?}"
    );
    let rewritten = OtpAuthUri::parse(&written).and_then(|again| again.to_uri());
    assert_eq!(
        rewritten.as_deref(),
        Ok(written.as_str()),
        "not a fixed point"
    );
}

/// Whatever `to_uri` agrees to write reads back as the same token.
fn write(u: &mut Unstructured<'_>) {
    let Ok(token) = token(u) else {
        return;
    };
    match token.to_uri() {
        Ok(written) => assert_eq!(
            OtpAuthUri::parse(&written),
            Ok(as_written(token.clone())),
            "{token:?} written as {written:?}"
        ),
        Err(UriError::ColonInLabel) => {
            assert!(token.issuer.contains(':') || token.account.contains(':'));
        }
        Err(UriError::MissingAccount) => {
            let dots = token.issuer.is_empty() && matches!(token.account.as_str(), "." | "..");
            assert!(token.account.trim_start_matches(' ').is_empty() || dots);
        }
        Err(other) => panic!("to_uri failed with {other} for {token:?}"),
    }
}

/// The token as its URI carries it: an HOTP token's codes do not depend on a period, so its URI
/// has none and reads with the default (the Key Uri Format defines `period` for TOTP only); and
/// spaces after the label's colon are the format's, so readers drop them from the account.
fn as_written(mut token: OtpAuthUri) -> OtpAuthUri {
    token.account = token.account.trim_start_matches(' ').to_owned();
    if matches!(token.kind, OtpKind::Hotp { .. }) {
        token.params.period = Period::THIRTY;
    }
    token
}

fn token(u: &mut Unstructured<'_>) -> arbitrary::Result<OtpAuthUri> {
    let issuer = String::arbitrary(u)?;
    let account = String::arbitrary(u)?;
    let secret_len = u.int_in_range(Secret::MIN_LEN..=Secret::MAX_LEN)?;
    let secret = Secret::from_bytes(u.bytes(secret_len)?).expect("a valid length");
    let algorithm = *u.choose(&[Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512])?;
    let digits = Digits::new(u.int_in_range(6..=8)?).expect("6 to 8");
    let period = Period::new(u.int_in_range(1..=300)?).expect("1 to 300");
    let kind = if bool::arbitrary(u)? {
        OtpKind::Hotp {
            counter: u64::arbitrary(u)?,
        }
    } else {
        OtpKind::Totp
    };
    Ok(OtpAuthUri {
        issuer,
        account,
        secret,
        params: OtpParams {
            algorithm,
            digits,
            period,
        },
        kind,
    })
}
