//! The code screen: the current code and how long it stays, from a time the caller supplies
//! (the phone's clock, which may be off: `--clock-offset`).

use mamori_otp::{OtpParams, Secret, totp};

/// The code the token shows at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeNow {
    /// The code, digits only.
    pub code: String,
    /// Seconds until the next code (1..=period).
    pub seconds_left: u32,
}

/// The code at `device_unix` (Unix seconds by the token's own clock).
pub fn code_at(secret: &Secret, params: OtpParams, device_unix: u64) -> CodeNow {
    let period = u64::from(params.period.seconds());
    CodeNow {
        code: totp(secret, device_unix, params).as_str().to_owned(),
        seconds_left: u32::try_from(period - device_unix % period).unwrap_or(0),
    }
}

/// The code in two halves, as the screen shows it: `123 456`, `1234 5678`.
pub fn grouped(code: &str) -> String {
    let (first, second) = code.split_at(code.len() / 2);
    format!("{first} {second}")
}

/// The one-line screen: `MAMO12345678  123 456  残り 17 秒 / 17 s left`.
pub fn screen_line(credential_id: &str, now: &CodeNow) -> String {
    format!(
        "{credential_id}  {}  残り {left} 秒 / {left} s left",
        grouped(&now.code),
        left = now.seconds_left
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_otp::{Algorithm, Digits, Period};

    /// RFC 6238 Appendix B's SHA1 key.
    fn rfc_secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    #[test]
    fn the_code_and_seconds_left_follow_the_supplied_time() {
        let params = OtpParams::default();
        // RFC 6238 Appendix B: T = 59 → 94287082 (8 digits), so 287082 with 6.
        let at_59 = code_at(&rfc_secret(), params, 59);
        assert_eq!(at_59.code, "287082");
        assert_eq!(at_59.seconds_left, 1);
        let at_60 = code_at(&rfc_secret(), params, 60);
        assert_eq!(at_60.seconds_left, 30);
        assert_ne!(at_60.code, at_59.code);
        let eight = OtpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::EIGHT,
            period: Period::THIRTY,
        };
        assert_eq!(
            code_at(&rfc_secret(), eight, 1_111_111_109).code,
            "07081804"
        );
    }

    #[test]
    fn the_screen_groups_the_code_and_says_the_time_in_both_languages() {
        assert_eq!(grouped("123456"), "123 456");
        assert_eq!(grouped("12345678"), "1234 5678");
        let line = screen_line(
            "MAMO12345678",
            &CodeNow {
                code: "123456".into(),
                seconds_left: 17,
            },
        );
        assert_eq!(line, "MAMO12345678  123 456  残り 17 秒 / 17 s left");
    }
}
