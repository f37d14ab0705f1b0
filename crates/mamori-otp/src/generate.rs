//! Code generation: RFC 4226 HOTP and RFC 6238 TOTP.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::algorithm::{Algorithm, Digits, OtpParams, Period};
use crate::code::Code;
use crate::secret::Secret;

/// The HOTP code for `counter` (RFC 4226 §5.3).
pub fn hotp(secret: &Secret, counter: u64, algorithm: Algorithm, digits: Digits) -> Code {
    Code::from_truncated(truncated_value(secret, counter, algorithm), digits)
}

/// The RFC 6238 time step containing `unix_seconds`: `floor(unix_seconds / period)`,
/// with T0 = 0.
///
/// Steps are 64-bit, so times after 2038 (and after 2106) work as RFC 6238 §4.2 requires.
pub fn totp_step(unix_seconds: u64, period: Period) -> u64 {
    unix_seconds / u64::from(period.seconds())
}

/// The TOTP code at `unix_seconds` (RFC 6238 §4): HOTP with the time step as counter.
///
/// The caller supplies the time; this crate never reads a clock.
pub fn totp(secret: &Secret, unix_seconds: u64, params: OtpParams) -> Code {
    totp_at_step(secret, totp_step(unix_seconds, params.period), params)
}

/// The TOTP code for a time step already computed with [`totp_step`] (verification
/// works in steps, not seconds).
pub fn totp_at_step(secret: &Secret, step: u64, params: OtpParams) -> Code {
    hotp(secret, step, params.algorithm, params.digits)
}

/// The 31-bit value HOTP's dynamic truncation extracts from `HMAC(secret, counter)`
/// (RFC 4226 §5.3 "DT", before reduction modulo `10^digits`).
///
/// Exposed so implementations can be checked against the intermediate values printed
/// in RFC 4226 Appendix D; ordinary callers want [`hotp`].
pub fn truncated_value(secret: &Secret, counter: u64, algorithm: Algorithm) -> u32 {
    let key = secret.as_bytes();
    match algorithm {
        Algorithm::Sha1 => truncate_with::<Hmac<Sha1>>(key, counter),
        Algorithm::Sha256 => truncate_with::<Hmac<Sha256>>(key, counter),
        Algorithm::Sha512 => truncate_with::<Hmac<Sha512>>(key, counter),
    }
}

fn truncate_with<M: Mac + KeyInit>(key: &[u8], counter: u64) -> u32 {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    // RFC 4226 §5.2: the counter is an 8-byte big-endian integer.
    mac.update(&counter.to_be_bytes());
    dynamic_truncate(&mac.finalize().into_bytes())
}

/// RFC 4226 §5.3: the low nibble of the last byte picks an offset; take 4 bytes there
/// and drop the top bit so the result is the same whether read as signed or unsigned.
fn dynamic_truncate(hmac: &[u8]) -> u32 {
    // Every supported HMAC output is at least 20 bytes, and offset + 4 <= 19.
    let offset = usize::from(hmac[hmac.len() - 1] & 0x0f);
    let bytes = [
        hmac[offset],
        hmac[offset + 1],
        hmac[offset + 2],
        hmac[offset + 3],
    ];
    u32::from_be_bytes(bytes) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_truncation_example_from_rfc_4226_section_5_4() {
        let hmac = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(dynamic_truncate(&hmac), 0x50ef_7f19);
        assert_eq!(
            Code::from_truncated(0x50ef_7f19, Digits::SIX).as_str(),
            "872921"
        );
    }

    #[test]
    fn top_bit_is_masked() {
        let mut hmac = [0xffu8; 20];
        hmac[19] = 0x00;
        assert_eq!(dynamic_truncate(&hmac), 0x7fff_ffff);
    }

    #[test]
    fn steps_beyond_32_bits() {
        assert_eq!(totp_step(20_000_000_000, Period::THIRTY), 666_666_666);
        assert_eq!(totp_step(u64::MAX, Period::new(1).unwrap()), u64::MAX);
        assert_eq!(totp_step(29, Period::THIRTY), 0);
        assert_eq!(totp_step(30, Period::THIRTY), 1);
    }
}
