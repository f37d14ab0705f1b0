//! An independent code generator for tests: the `totp-rs` crate, not Mamori's engine, so a bug
//! in the engine cannot agree with itself.

use data_encoding::BASE32_NOPAD;
use totp_rs::{Algorithm, TOTP};

/// A customer's token as the tests hold it: the credential ID and secret from provisioning.
#[derive(Debug, Clone)]
pub struct TestToken {
    /// The credential ID.
    pub credential_id: String,
    secret: Vec<u8>,
    /// Seconds the phone's clock runs ahead (negative: behind).
    pub clock_offset: i64,
}

impl TestToken {
    /// A token from a provisioning response's credential ID and base32 secret.
    pub fn new(credential_id: &str, secret_base32: &str) -> Self {
        let secret = BASE32_NOPAD
            .decode(secret_base32.trim_end_matches('=').as_bytes())
            .expect("base32 secret");
        Self {
            credential_id: credential_id.to_owned(),
            secret,
            clock_offset: 0,
        }
    }

    /// The code the phone shows at `unix_seconds` (server time), with its clock offset.
    pub fn code_at(&self, unix_seconds: i64) -> String {
        let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, self.secret.clone());
        let phone_time = u64::try_from(unix_seconds + self.clock_offset).expect("time after 1970");
        totp.generate(phone_time)
    }

    /// The code the phone shows `steps` periods after `unix_seconds`.
    pub fn code_after(&self, unix_seconds: i64, steps: i64) -> String {
        self.code_at(unix_seconds + 30 * steps)
    }

    /// A six-digit code that is none of this token's codes within three steps of `unix_seconds`:
    /// wrong under any bank's window.
    pub fn wrong_code_at(&self, unix_seconds: i64) -> String {
        let near: Vec<String> = (-3..=3).map(|s| self.code_after(unix_seconds, s)).collect();
        (0..)
            .map(|n: u32| format!("{:06}", n * 111_111 % 1_000_000))
            .find(|c| !near.contains(c))
            .expect("seven codes cannot cover ten candidates")
    }
}
