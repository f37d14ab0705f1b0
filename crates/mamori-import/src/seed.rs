//! A token read from a file, and the checks every format shares.

use std::collections::HashMap;

use mamori_domain::CredentialKind;
use mamori_otp::{CredentialId, OtpParams, Secret, TokenSerial};

use crate::fault::{Fault, LineError};

/// At most this many tokens in one file: a vendor's delivery is split into files of this size.
pub const MAX_TOKENS: usize = 10_000;

/// At most this many faults are reported; the rest are counted in a last one.
pub const MAX_FAULTS: usize = 200;

/// One token read from a file.
#[derive(Debug, Clone)]
pub struct TokenSeed {
    /// The line of the file it was read from (1-based).
    pub line: u32,
    /// Its serial, which becomes its credential ID.
    pub serial: TokenSerial,
    /// Time or event based.
    pub kind: CredentialKind,
    /// HOTP: the counter of the next code the token will show.
    pub counter: u64,
    /// The seed.
    pub secret: Secret,
    /// Algorithm, digits and period.
    pub params: OtpParams,
}

/// Collects faults up to [`MAX_FAULTS`], counting the rest.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) shown: Vec<LineError>,
    more: usize,
}

impl Faults {
    pub(crate) fn add(&mut self, line: u32, fault: Fault) {
        if self.shown.len() < MAX_FAULTS {
            self.shown.push(LineError { line, fault });
        } else {
            self.more += 1;
        }
    }

    pub(crate) fn into_result(
        mut self,
        seeds: Vec<TokenSeed>,
    ) -> Result<Vec<TokenSeed>, Vec<LineError>> {
        if self.shown.is_empty() {
            return Ok(seeds);
        }
        if self.more > 0 {
            let line = self.shown.last().map_or(0, |e| e.line);
            self.shown.push(LineError {
                line,
                fault: Fault::MoreFaults(self.more),
            });
        }
        Err(self.shown)
    }
}

/// The checks on a whole file, whatever its format: some tokens and not too many, no serial
/// twice, none in Mamori's own ID space.
pub(crate) fn check_batch(seeds: &[TokenSeed], faults: &mut Faults) {
    if seeds.is_empty() && faults.shown.is_empty() {
        faults.add(1, Fault::NoTokens);
    }
    if seeds.len() > MAX_TOKENS {
        faults.add(seeds[MAX_TOKENS].line, Fault::TooManyTokens(MAX_TOKENS));
    }
    let mut first_seen: HashMap<&str, u32> = HashMap::new();
    for seed in seeds {
        if let Some(&first) = first_seen.get(seed.serial.as_str()) {
            faults.add(seed.line, Fault::DuplicateSerial { first_line: first });
        } else {
            first_seen.insert(seed.serial.as_str(), seed.line);
        }
        // Mamori draws its own IDs from `MAMO` + 8 digits; an imported serial there could take
        // an ID a soft token is about to be given, or look like one to a customer.
        if CredentialId::parse(seed.serial.as_str()).is_ok() {
            faults.add(seed.line, Fault::SerialLooksIssued);
        }
    }
}

/// A secret's bytes as a [`Secret`], or the fault (never quoting the bytes).
pub(crate) fn secret_of(bytes: &[u8]) -> Result<Secret, Fault> {
    Secret::from_bytes(bytes).map_err(|_| Fault::SecretLength {
        min: Secret::MIN_LEN,
        max: Secret::MAX_LEN,
    })
}

/// The HMAC hash named `HMAC-SHA1`, `SHA-256`, `sha512` and the like.
pub(crate) fn hash_of(text: &str) -> Result<mamori_otp::Algorithm, Fault> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper
        .strip_prefix("HMAC-")
        .unwrap_or(&upper)
        .replace('-', "");
    name.parse().map_err(|_| Fault::HashUnsupported)
}
