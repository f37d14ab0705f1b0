//! Login password hashing with Argon2id (RFC 9106), stored as PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! - Every hash has its own 16-byte random salt from the OS random source.
//! - A PHC string carries its own parameters, so passwords hashed under older parameters still
//!   verify after the configuration changes; [`PasswordHashing::needs_rehash`] tells the caller
//!   to re-hash such a password after the next successful login.
//! - [`PasswordHashing::verify_dummy`] does the same work as a real verification, so "no such
//!   user" answers as slowly as "wrong password" and response time reveals nothing.
//! - Nothing here logs or prints a password; `Debug` shows only the parameters.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Salt length in bytes (RFC 9106 recommends 16).
const SALT_LEN: usize = 16;

/// The largest memory cost (KiB) accepted, for new hashes and in stored PHC strings: 1 GiB.
/// A stored hash is never trusted to make the server allocate more than this.
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// The largest number of iterations accepted, for new hashes and in stored PHC strings.
pub const MAX_ITERATIONS: u32 = 64;
/// The largest degree of parallelism (lanes) accepted, for new hashes and in stored PHC strings.
pub const MAX_PARALLELISM: u32 = 64;

/// The fixed input of the dummy verification. It is never a real credential: the caller of
/// [`PasswordHashing::verify_dummy`] rejects the login whatever the password.
const DUMMY_PASSWORD: &str = "mamori-dummy-password-never-valid";
/// The fixed salt of the dummy hash (16 bytes). No random source is needed for it.
const DUMMY_SALT: &[u8; SALT_LEN] = b"mamori-dummy-slt";

/// Why a password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The Argon2 parameters are out of range.
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Argon2 refused the input (e.g. a password longer than 2^32-1 bytes).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Argon2id password hashing with fixed parameters.
///
/// Build one at startup and share it; the dummy hash for [`Self::verify_dummy`] is computed once,
/// on first use.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Params,
    /// The PHC string of [`DUMMY_PASSWORD`] under `params`; `None` only if hashing it failed.
    dummy: OnceLock<Option<String>>,
}

impl PasswordHashing {
    /// Argon2id with `memory_kib` KiB of memory, `iterations` passes and `parallelism` lanes.
    ///
    /// The values must be within Argon2's limits (memory at least 8 KiB per lane, at least one
    /// iteration and one lane) and at most [`MAX_MEMORY_KIB`], [`MAX_ITERATIONS`] and
    /// [`MAX_PARALLELISM`].
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, PasswordHashError> {
        if memory_kib > MAX_MEMORY_KIB {
            return Err(PasswordHashError::InvalidParams(format!(
                "memory {memory_kib} KiB is more than {MAX_MEMORY_KIB} KiB"
            )));
        }
        if iterations > MAX_ITERATIONS {
            return Err(PasswordHashError::InvalidParams(format!(
                "{iterations} iterations are more than {MAX_ITERATIONS}"
            )));
        }
        if parallelism > MAX_PARALLELISM {
            return Err(PasswordHashError::InvalidParams(format!(
                "{parallelism} lanes are more than {MAX_PARALLELISM}"
            )));
        }
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| PasswordHashError::InvalidParams(e.to_string()))?;
        Ok(Self::from_params(params))
    }

    fn from_params(params: Params) -> Self {
        Self {
            params,
            dummy: OnceLock::new(),
        }
    }

    /// Memory cost in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.params.m_cost()
    }

    /// Number of iterations (passes).
    pub fn iterations(&self) -> u32 {
        self.params.t_cost()
    }

    /// Degree of parallelism (lanes).
    pub fn parallelism(&self) -> u32 {
        self.params.p_cost()
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` with a fresh random salt and returns the PHC string
    /// (`$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>`).
    pub fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| PasswordHashError::Random(e.to_string()))?;
        self.hash_with_salt(password, &salt)
    }

    fn hash_with_salt(&self, password: &str, salt: &[u8]) -> Result<String, PasswordHashError> {
        let salt =
            SaltString::encode_b64(salt).map_err(|e| PasswordHashError::Hash(e.to_string()))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| PasswordHashError::Hash(e.to_string()))
    }

    /// Whether `password` matches the PHC string `phc`.
    ///
    /// The parameters are read from `phc` (so older hashes keep working); the final comparison
    /// is constant-time. Anything that is not a well-formed Argon2id PHC string, or whose
    /// parameters exceed [`MAX_MEMORY_KIB`], [`MAX_ITERATIONS`] or [`MAX_PARALLELISM`], gives
    /// `false` rather than an error or a panic.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        let Some(hash) = parse_argon2id(phc) else {
            return false;
        };
        self.argon2()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    }

    /// Spends the time of one verification without a stored hash: call it when the user does
    /// not exist, then reject the login as for a wrong password. The result is discarded.
    pub fn verify_dummy(&self, password: &str) {
        let dummy = self
            .dummy
            .get_or_init(|| self.hash_with_salt(DUMMY_PASSWORD, DUMMY_SALT).ok());
        match dummy {
            Some(phc) => {
                let matched = self.verify(password, phc);
                std::hint::black_box(matched);
            }
            // Unreachable with valid parameters; still spend the hashing time.
            None => {
                let hashed = self.hash_with_salt(password, DUMMY_SALT);
                std::hint::black_box(hashed.is_ok());
            }
        }
    }

    /// Whether a stored hash should be replaced by a new one made with this configuration
    /// (after a successful login, while the clear password is at hand): true when `phc` is not
    /// Argon2id v19 or was made with other parameters. Also true for an unreadable string.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return true;
        };
        if hash.algorithm != Algorithm::Argon2id.ident()
            || hash.version != Some(Version::V0x13.into())
        {
            return true;
        }
        match Params::try_from(&hash) {
            Ok(params) => {
                params.m_cost() != self.params.m_cost()
                    || params.t_cost() != self.params.t_cost()
                    || params.p_cost() != self.params.p_cost()
                    || output_len(&params) != output_len(&self.params)
            }
            Err(_) => true,
        }
    }
}

/// The hash length in bytes (argon2's default of 32 when unset).
fn output_len(params: &Params) -> usize {
    params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
}

/// Parses an Argon2id PHC string whose parameters are within the accepted limits.
fn parse_argon2id(phc: &str) -> Option<PasswordHash<'_>> {
    let hash = PasswordHash::new(phc).ok()?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return None;
    }
    let params = Params::try_from(&hash).ok()?;
    let within_limits = params.m_cost() <= MAX_MEMORY_KIB
        && params.t_cost() <= MAX_ITERATIONS
        && params.p_cost() <= MAX_PARALLELISM;
    within_limits.then_some(hash)
}

impl Default for PasswordHashing {
    /// OWASP's Argon2id recommendation: 19 MiB of memory, 2 iterations, 1 lane.
    fn default() -> Self {
        // argon2's `Params::DEFAULT` is exactly m=19456 KiB, t=2, p=1.
        Self::from_params(Params::DEFAULT)
    }
}

impl fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHashing")
            .field("algorithm", &"argon2id")
            .field("memory_kib", &self.memory_kib())
            .field("iterations", &self.iterations())
            .field("parallelism", &self.parallelism())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small parameters so the tests are fast.
    fn fast() -> PasswordHashing {
        PasswordHashing::new(1024, 1, 1).unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(hashing.verify("abc123", &phc));
    }

    #[test]
    fn wrong_password_is_false() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        assert!(!hashing.verify("abc124", &phc));
        assert!(!hashing.verify("ABC123", &phc), "case-sensitive");
        assert!(!hashing.verify("", &phc));
    }

    #[test]
    fn every_hash_has_its_own_salt() {
        let hashing = fast();
        let first = hashing.hash("abc123").unwrap();
        let second = hashing.hash("abc123").unwrap();
        assert_ne!(first, second);
        let salt = |phc: &str| phc.split('$').nth(4).map(str::to_owned);
        assert_ne!(salt(&first), salt(&second));
        assert!(hashing.verify("abc123", &first));
        assert!(hashing.verify("abc123", &second));
    }

    #[test]
    fn garbage_phc_is_false_not_a_panic() {
        let hashing = fast();
        let good = hashing.hash("abc123").unwrap();
        let truncated = &good[..good.len() - 5];
        let cases = [
            "",
            "abc123",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1$",
            "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA",
            "$bcrypt$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            truncated,
        ];
        for phc in cases {
            assert!(!hashing.verify("abc123", phc), "{phc:?}");
            assert!(hashing.needs_rehash(phc), "{phc:?}");
        }
    }

    #[test]
    fn other_argon2_variants_are_refused() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        let argon2i = phc.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!hashing.verify("abc123", &argon2i));
    }

    #[test]
    fn huge_parameters_in_a_stored_hash_are_refused_without_allocating() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        let huge = phc.replacen("m=1024", "m=4294967295", 1);
        assert!(!hashing.verify("abc123", &huge));
        let many = phc.replacen("t=1", "t=1000000", 1);
        assert!(!hashing.verify("abc123", &many));
    }

    #[test]
    fn new_rejects_bad_parameters() {
        assert!(
            PasswordHashing::new(4, 1, 1).is_err(),
            "less than 8 KiB per lane"
        );
        assert!(PasswordHashing::new(1024, 0, 1).is_err());
        assert!(PasswordHashing::new(1024, 1, 0).is_err());
        assert!(PasswordHashing::new(MAX_MEMORY_KIB + 1, 1, 1).is_err());
        assert!(PasswordHashing::new(1024, MAX_ITERATIONS + 1, 1).is_err());
        assert!(PasswordHashing::new(1024, 1, MAX_PARALLELISM + 1).is_err());
    }

    #[test]
    fn hashes_from_other_parameters_still_verify_and_need_rehash() {
        let old = PasswordHashing::new(2048, 1, 1).unwrap();
        let current = fast();
        let phc = old.hash("abc123").unwrap();
        assert!(current.verify("abc123", &phc));
        assert!(current.needs_rehash(&phc));
        assert!(!old.needs_rehash(&phc));
        assert!(!current.needs_rehash(&current.hash("abc123").unwrap()));
    }

    #[test]
    fn verify_dummy_returns() {
        let hashing = fast();
        hashing.verify_dummy("abc123");
        hashing.verify_dummy("");
        // The dummy hash is made once and has the configured parameters.
        let dummy = hashing.dummy.get().cloned().flatten().unwrap();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{dummy}"
        );
        assert!(!hashing.needs_rehash(&dummy));
        hashing.verify_dummy("abc123");
    }

    #[test]
    fn default_is_owasp_and_works() {
        let hashing = PasswordHashing::default();
        assert_eq!(
            (
                hashing.memory_kib(),
                hashing.iterations(),
                hashing.parallelism()
            ),
            (19 * 1024, 2, 1)
        );
        let phc = hashing.hash("Abc123def456").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hashing.verify("Abc123def456", &phc));
        assert!(!hashing.verify("Abc123def457", &phc));
        hashing.verify_dummy("Abc123def456");
    }

    #[test]
    fn debug_shows_parameters_only() {
        let hashing = fast();
        hashing.verify_dummy("abc123");
        let debug = format!("{hashing:?}");
        assert_eq!(
            debug,
            "PasswordHashing { algorithm: \"argon2id\", memory_kib: 1024, iterations: 1, parallelism: 1 }"
        );
        assert!(!debug.contains(DUMMY_PASSWORD));
    }
}
