//! Known-answer tests: every vector in `tests/data/otp-test-vectors.json`, copied from
//! RFC 4226 Appendix D and RFC 6238 Appendix B (plus derived 6-digit rows).

use mamori_otp::{
    Algorithm, Digits, OtpParams, Period, Secret, hotp, totp, totp_step, truncated_value,
};
use serde::Deserialize;

const VECTORS: &str = include_str!("data/otp-test-vectors.json");

#[derive(Deserialize)]
struct File {
    rfc4226_appendix_d: Rfc4226,
    rfc6238_appendix_b: Rfc6238,
    derived_6_digit_totp_sha1: Derived,
}

#[derive(Deserialize)]
struct Rfc4226 {
    secret_ascii: String,
    digits: u8,
    vectors: Vec<HotpRow>,
}

#[derive(Deserialize)]
struct HotpRow {
    count: u64,
    truncated_hex: String,
    truncated_decimal: u32,
    hotp: String,
}

#[derive(Deserialize)]
struct Rfc6238 {
    time_step_seconds: u32,
    t0: u64,
    digits: u8,
    seeds: Seeds,
    vectors: Vec<TotpRow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct Seeds {
    sha1: Seed,
    sha256: Seed,
    sha512: Seed,
}

#[derive(Deserialize)]
struct Seed {
    secret_ascii: String,
    length_bytes: usize,
}

#[derive(Deserialize)]
struct TotpRow {
    time_unix: u64,
    #[serde(rename = "T_hex")]
    t_hex: String,
    #[serde(rename = "T")]
    t: u64,
    mode: String,
    totp: String,
}

#[derive(Deserialize)]
struct Derived {
    secret_ascii: String,
    vectors: Vec<DerivedRow>,
}

#[derive(Deserialize)]
struct DerivedRow {
    time_unix: u64,
    #[serde(rename = "T_hex")]
    t_hex: String,
    totp6: String,
}

fn vectors() -> File {
    serde_json::from_str(VECTORS).expect("test vector file parses")
}

fn secret(ascii: &str) -> Secret {
    Secret::from_bytes(ascii.as_bytes()).expect("RFC seeds are long enough")
}

fn params(algorithm: Algorithm, digits: u8, period: u32) -> OtpParams {
    OtpParams {
        algorithm,
        digits: Digits::new(digits).expect("vector digits are 6 or 8"),
        period: Period::new(period).expect("vector period is 30"),
    }
}

#[test]
fn rfc4226_appendix_d() {
    let file = vectors().rfc4226_appendix_d;
    let secret = secret(&file.secret_ascii);
    let digits = Digits::new(file.digits).unwrap();
    assert_eq!(file.vectors.len(), 10);
    for row in &file.vectors {
        let truncated = truncated_value(&secret, row.count, Algorithm::Sha1);
        assert_eq!(truncated, row.truncated_decimal, "count {}", row.count);
        assert_eq!(
            u32::from_str_radix(&row.truncated_hex, 16).unwrap(),
            row.truncated_decimal,
            "count {}: the file's hex and decimal agree",
            row.count
        );
        let code = hotp(&secret, row.count, Algorithm::Sha1, digits);
        assert_eq!(code.as_str(), row.hotp, "count {}", row.count);
    }
}

#[test]
fn rfc6238_appendix_b() {
    let file = vectors().rfc6238_appendix_b;
    assert_eq!(file.t0, 0, "this crate implements T0 = 0 only");
    assert_eq!(file.vectors.len(), 18);
    for row in &file.vectors {
        let algorithm: Algorithm = row.mode.parse().unwrap();
        let seed = match algorithm {
            Algorithm::Sha1 => &file.seeds.sha1,
            Algorithm::Sha256 => &file.seeds.sha256,
            Algorithm::Sha512 => &file.seeds.sha512,
        };
        assert_eq!(seed.secret_ascii.len(), seed.length_bytes);
        let params = params(algorithm, file.digits, file.time_step_seconds);
        let step = totp_step(row.time_unix, params.period);
        assert_eq!(step, row.t, "{} at {}", row.mode, row.time_unix);
        assert_eq!(step, u64::from_str_radix(&row.t_hex, 16).unwrap());
        let code = totp(&secret(&seed.secret_ascii), row.time_unix, params);
        assert_eq!(code.as_str(), row.totp, "{} at {}", row.mode, row.time_unix);
    }
}

#[test]
fn rfc6238_appendix_b_covers_times_beyond_32_bits() {
    let file = vectors().rfc6238_appendix_b;
    assert!(
        file.vectors
            .iter()
            .any(|row| row.time_unix > u64::from(u32::MAX))
    );
}

#[test]
fn derived_six_digit_sha1_rows() {
    let file = vectors().derived_6_digit_totp_sha1;
    let secret = secret(&file.secret_ascii);
    let params = OtpParams::default();
    assert_eq!(file.vectors.len(), 6);
    for row in &file.vectors {
        assert_eq!(
            totp_step(row.time_unix, params.period),
            u64::from_str_radix(&row.t_hex, 16).unwrap()
        );
        let code = totp(&secret, row.time_unix, params);
        assert_eq!(code.as_str(), row.totp6, "at {}", row.time_unix);
    }
}

#[test]
fn six_digit_rows_are_the_last_six_of_the_eight_digit_rows() {
    let file = vectors();
    let sha1_rows = file
        .rfc6238_appendix_b
        .vectors
        .iter()
        .filter(|row| row.mode == "SHA1");
    for (eight, six) in sha1_rows.zip(&file.derived_6_digit_totp_sha1.vectors) {
        assert_eq!(eight.time_unix, six.time_unix);
        assert_eq!(&eight.totp[2..], six.totp6);
    }
}
