//! `otpauth://` URI formatting and parsing.

use mamori_otp::{
    Algorithm, Digits, OtpAuthUri, OtpKind, OtpParams, Period, Secret, SecretError, UriError,
};

fn rfc_secret() -> Secret {
    Secret::from_bytes(b"12345678901234567890").expect("20-byte secret")
}

fn mamori(kind: OtpKind) -> OtpAuthUri {
    OtpAuthUri {
        issuer: "Mamori".to_owned(),
        account: "MAMO00001234".to_owned(),
        secret: rfc_secret(),
        params: OtpParams::default(),
        kind,
    }
}

#[test]
fn formats_the_documented_totp_example() {
    assert_eq!(
        mamori(OtpKind::Totp).to_uri().unwrap(),
        "otpauth://totp/Mamori:MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Mamori&algorithm=SHA1&digits=6&period=30"
    );
}

#[test]
fn formats_hotp_with_counter_instead_of_period() {
    assert_eq!(
        mamori(OtpKind::Hotp { counter: 42 }).to_uri().unwrap(),
        "otpauth://hotp/Mamori:MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Mamori&algorithm=SHA1&digits=6&counter=42"
    );
}

#[test]
fn japanese_issuer_is_percent_encoded_and_round_trips() {
    let uri = OtpAuthUri {
        issuer: "守り しんきん".to_owned(),
        ..mamori(OtpKind::Totp)
    };
    let text = uri.to_uri().unwrap();
    assert!(text.is_ascii());
    assert!(text.starts_with(
        "otpauth://totp/%E5%AE%88%E3%82%8A%20%E3%81%97%E3%82%93%E3%81%8D%E3%82%93:MAMO00001234?"
    ));
    assert!(text.contains("&issuer=%E5%AE%88%E3%82%8A%20%E3%81%97"));
    assert_eq!(OtpAuthUri::parse(&text).unwrap(), uri);
}

#[test]
fn round_trips_every_parameter_combination() {
    let kinds = [
        OtpKind::Totp,
        OtpKind::Hotp { counter: 0 },
        OtpKind::Hotp { counter: u64::MAX },
    ];
    let issuers = [
        "",
        "Mamori",
        "Shinkin Bank",
        "城南信用金庫",
        "a&b=c?d#e/f+g%h",
    ];
    for kind in kinds {
        for issuer in issuers {
            for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
                for (digits, period) in [(6, 30), (7, 1), (8, 300)] {
                    let uri = OtpAuthUri {
                        issuer: issuer.to_owned(),
                        account: "user name@example.jp".to_owned(),
                        secret: Secret::generate().unwrap(),
                        params: OtpParams {
                            algorithm,
                            digits: Digits::new(digits).unwrap(),
                            period: Period::new(period).unwrap(),
                        },
                        kind,
                    };
                    let text = uri.to_uri().unwrap();
                    let parsed = OtpAuthUri::parse(&text).unwrap();
                    // HOTP URIs carry no period; it comes back as the default.
                    let expected = match kind {
                        OtpKind::Totp => uri.clone(),
                        OtpKind::Hotp { .. } => OtpAuthUri {
                            params: OtpParams {
                                period: Period::THIRTY,
                                ..uri.params
                            },
                            ..uri.clone()
                        },
                    };
                    assert_eq!(parsed, expected, "{text}");
                }
            }
        }
    }
}

#[test]
fn absent_parameters_take_the_defaults() {
    let parsed =
        OtpAuthUri::parse("otpauth://totp/MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
            .unwrap();
    assert_eq!(parsed.issuer, "");
    assert_eq!(parsed.account, "MAMO00001234");
    assert_eq!(parsed.params, OtpParams::default());
    assert_eq!(parsed.kind, OtpKind::Totp);
    assert_eq!(parsed.secret, rfc_secret());
}

#[test]
fn accepts_variants_other_generators_produce() {
    let expected = mamori(OtpKind::Totp);
    for text in [
        // issuer only in the label, only in the parameter, colon encoded, space after it
        "otpauth://totp/Mamori:MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "otpauth://totp/MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mamori",
        "otpauth://totp/Mamori%3AMAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "otpauth://totp/Mamori:%20MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        // lowercase names and secret, padding, an unknown parameter
        "otpauth://TOTP/Mamori:MAMO00001234?secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq&algorithm=sha1",
        "otpauth://totp/Mamori:MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&image=x",
        // raw Japanese is not needed here, but '+' as space in the query is
        "OTPAUTH://totp/Mamori:MAMO00001234?Secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=6",
    ] {
        assert_eq!(OtpAuthUri::parse(text).as_ref(), Ok(&expected), "{text}");
    }
    let plus = OtpAuthUri::parse(
        "otpauth://totp/MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Shinkin+Bank",
    )
    .unwrap();
    assert_eq!(plus.issuer, "Shinkin Bank");
    let raw = OtpAuthUri::parse(
        "otpauth://totp/守り:MAMO00001234?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=守り",
    )
    .unwrap();
    assert_eq!(raw.issuer, "守り");
}

#[test]
fn rejects_bad_uris() {
    const S: &str = "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let cases: Vec<(String, UriError)> = vec![
        ("not a uri".into(), UriError::NotUri),
        (format!("https://totp/M:X?{S}"), UriError::UnsupportedScheme),
        (format!("otpauth://motp/M:X?{S}"), UriError::UnknownType),
        (format!("otpauth:totp/M:X?{S}"), UriError::UnknownType),
        (
            "otpauth://totp/M:X?issuer=M".into(),
            UriError::MissingSecret,
        ),
        (
            "otpauth://totp/M:X?secret=".into(),
            UriError::InvalidSecret(SecretError::TooShort { min: 16, actual: 0 }),
        ),
        (
            "otpauth://totp/M:X?secret=not*base32".into(),
            UriError::InvalidSecret(SecretError::InvalidBase32),
        ),
        (
            format!("otpauth://totp/M:X?{S}&{S}"),
            UriError::DuplicateParameter("secret"),
        ),
        (
            format!("otpauth://totp/M:X?{S}&digits=6&digits=8"),
            UriError::DuplicateParameter("digits"),
        ),
        (
            format!("otpauth://totp/M:X?{S}&algorithm=MD5"),
            UriError::UnknownAlgorithm,
        ),
        (
            format!("otpauth://totp/M:X?{S}&digits=5"),
            UriError::InvalidDigits,
        ),
        (
            format!("otpauth://totp/M:X?{S}&digits=9"),
            UriError::InvalidDigits,
        ),
        (
            format!("otpauth://totp/M:X?{S}&digits=%2B6"),
            UriError::InvalidDigits,
        ),
        (
            format!("otpauth://totp/M:X?{S}&digits=six"),
            UriError::InvalidDigits,
        ),
        (
            format!("otpauth://totp/M:X?{S}&period=0"),
            UriError::InvalidPeriod,
        ),
        (
            format!("otpauth://totp/M:X?{S}&period=301"),
            UriError::InvalidPeriod,
        ),
        (format!("otpauth://hotp/M:X?{S}"), UriError::MissingCounter),
        (
            format!("otpauth://hotp/M:X?{S}&counter=-1"),
            UriError::InvalidCounter,
        ),
        (
            format!("otpauth://hotp/M:X?{S}&counter=18446744073709551616"),
            UriError::InvalidCounter,
        ),
        (format!("otpauth://totp/?{S}"), UriError::MissingAccount),
        (
            format!("otpauth://totp/Mamori:?{S}"),
            UriError::MissingAccount,
        ),
        (format!("otpauth://totp/A:B:C?{S}"), UriError::ColonInLabel),
        (
            format!("otpauth://totp/A:B?{S}&issuer=C"),
            UriError::IssuerMismatch,
        ),
        (
            format!("otpauth://totp/B?{S}&issuer=A:C"),
            UriError::ColonInLabel,
        ),
        (
            format!("otpauth://totp/%FF:B?{S}"),
            UriError::InvalidEncoding,
        ),
    ];
    for (text, error) in cases {
        assert_eq!(OtpAuthUri::parse(&text), Err(error), "{text}");
    }
}

#[test]
fn short_demo_secrets_are_refused() {
    // The Key Uri Format's own example uses an 80-bit key, below RFC 4226's minimum.
    assert_eq!(
        OtpAuthUri::parse(
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"
        ),
        Err(UriError::InvalidSecret(SecretError::TooShort {
            min: 16,
            actual: 10
        }))
    );
}

#[test]
fn refuses_to_format_ambiguous_labels() {
    let colon_issuer = OtpAuthUri {
        issuer: "A:B".to_owned(),
        ..mamori(OtpKind::Totp)
    };
    assert_eq!(colon_issuer.to_uri(), Err(UriError::ColonInLabel));
    let colon_account = OtpAuthUri {
        account: "x:y".to_owned(),
        ..mamori(OtpKind::Totp)
    };
    assert_eq!(colon_account.to_uri(), Err(UriError::ColonInLabel));
    let no_account = OtpAuthUri {
        account: String::new(),
        ..mamori(OtpKind::Totp)
    };
    assert_eq!(no_account.to_uri(), Err(UriError::MissingAccount));
}

#[test]
fn debug_does_not_show_the_secret() {
    let shown = format!("{:?}", mamori(OtpKind::Totp));
    assert!(shown.contains("Secret(**redacted**, 20 bytes)"));
    assert!(!shown.contains("GEZDGNBV"));
}
