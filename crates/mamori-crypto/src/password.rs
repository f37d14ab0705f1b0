//! Login password hashing with Argon2id (RFC 9106) and a pepper, stored as PHC strings
//! (`$argon2id$v=19$m=65536,t=3,p=1,keyid=cDE$<salt>$<hash>`).
//!
//! - The pepper is RFC 9106's secret input K, a [`Keyring::subkey`] of the master key's subkey
//!   root: a stolen database without the key file cannot be brute-forced offline, and someone
//!   who can write to the database cannot plant the hash of a password they know.
//! - Every stored hash names its kind in the PHC `keyid` parameter. Only two are accepted:
//!   [`PEPPERED`] (argon2id with the pepper) and [`WRAPPED`] (a hash made before the pepper,
//!   whose output was then replaced by HMAC-SHA256 under a key derived from the pepper, so it
//!   could be upgraded without the clear password: see [`PepperedHashing::wrap_legacy`]). A hash
//!   without a key id, or with another one, never verifies: otherwise writing an unpeppered hash
//!   would undo the pepper.
//! - Every hash has its own 16-byte random salt from the OS random source.
//! - A PHC string carries its own parameters, so passwords hashed under older parameters still
//!   verify after the configuration changes; [`PepperedHashing::needs_rehash`] tells the caller
//!   to re-hash such a password (and every wrapped one) after the next successful login. A
//!   stored hash asking for more than [`OUTSIZED_FACTOR`] times the configured memory,
//!   iterations or lanes is refused rather than computed: it would let a database writer make
//!   every login of that user a memory and CPU burden.
//! - [`PepperedHashing::verify_dummy`] does the same work as a real verification, so "no such
//!   user" answers as slowly as "wrong password" and response time reveals nothing.
//! - Nothing here logs or prints a password or the pepper; `Debug` shows only the parameters.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{
    Output, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, KeyId, Params, ParamsBuilder, Version};
use subtle::ConstantTimeEq as _;

use crate::keyring::{KeyError, Keyring};
use crate::mac::hmac_sha256;

/// Salt length in bytes (RFC 9106 recommends 16).
const SALT_LEN: usize = 16;
/// Hash length in bytes: argon2's default, and the length of the HMAC that wraps a legacy hash.
const HASH_LEN: usize = 32;

/// The largest memory cost (KiB) accepted, for new hashes and in stored PHC strings: 1 GiB.
/// A stored hash is never trusted to make the server allocate more than this.
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// The largest number of iterations accepted, for new hashes and in stored PHC strings.
pub const MAX_ITERATIONS: u32 = 64;
/// The largest degree of parallelism (lanes) accepted, for new hashes and in stored PHC strings.
pub const MAX_PARALLELISM: u32 = 64;
/// A stored hash whose memory, iterations or lanes exceed this many times the configured ones
/// is refused: no hash Mamori made has them unless the configuration was cut by more than that.
pub const OUTSIZED_FACTOR: u32 = 4;

/// The default memory cost: 64 MiB (RFC 9106 §4's second recommended option).
pub const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
/// The default number of iterations (RFC 9106 §4's second recommended option).
pub const DEFAULT_ITERATIONS: u32 = 3;
/// The default number of lanes: argon2 here computes lanes one after another, so more lanes
/// only cost time.
pub const DEFAULT_PARALLELISM: u32 = 1;

/// The [`Keyring::subkey`] purpose of the pepper.
pub const PEPPER_PURPOSE: &str = "mamori/password-pepper/v1";
/// The info string deriving the key that wraps legacy hashes from the pepper.
const WRAP_INFO: &[u8] = b"mamori/password-wrap/v1";
/// The `keyid` of a hash made with the pepper as argon2's secret (`keyid=cDE` in PHC).
pub const PEPPERED: &[u8] = b"p1";
/// The `keyid` of a legacy hash whose output is wrapped with HMAC (`keyid=dzE` in PHC).
pub const WRAPPED: &[u8] = b"w1";

/// The fixed input of the dummy verification. It is never a real credential: the caller of
/// [`PepperedHashing::verify_dummy`] rejects the login whatever the password.
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

/// The pepper: argon2's secret input, and the key that wraps legacy hashes, derived from it.
#[derive(Clone)]
pub struct Pepper {
    secret: [u8; 32],
    wrap: [u8; 32],
}

impl Pepper {
    /// The pepper from its 32 bytes (the [`PEPPER_PURPOSE`] subkey).
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret,
            wrap: hmac_sha256(&secret, WRAP_INFO),
        }
    }

    /// The pepper of this installation: the [`PEPPER_PURPOSE`] subkey, which survives
    /// master-key rotation like every subkey.
    pub fn from_keyring(keyring: &Keyring) -> Result<Self, KeyError> {
        keyring.subkey(PEPPER_PURPOSE).map(Self::new)
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(**redacted**)")
    }
}

/// The Argon2id cost: memory, iterations and lanes, as configured.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Params,
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
        let params = ParamsBuilder::new()
            .m_cost(memory_kib)
            .t_cost(iterations)
            .p_cost(parallelism)
            .output_len(HASH_LEN)
            .keyid(key_id(PEPPERED))
            .build()
            .map_err(|e| PasswordHashError::InvalidParams(e.to_string()))?;
        Ok(Self { params })
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

    /// Hashing and verification at this cost with `pepper`.
    pub fn with_pepper(&self, pepper: Pepper) -> PepperedHashing {
        PepperedHashing {
            cost: self.clone(),
            pepper,
            dummy: OnceLock::new(),
        }
    }

    /// Whether stored parameters are within the absolute caps and within [`OUTSIZED_FACTOR`]
    /// times this cost.
    fn admits(&self, stored: &Params) -> bool {
        let within = |stored: u32, configured: u32, cap: u32| {
            stored <= cap && u64::from(stored) <= u64::from(configured) * u64::from(OUTSIZED_FACTOR)
        };
        within(stored.m_cost(), self.memory_kib(), MAX_MEMORY_KIB)
            && within(stored.t_cost(), self.iterations(), MAX_ITERATIONS)
            && within(stored.p_cost(), self.parallelism(), MAX_PARALLELISM)
    }
}

impl Default for PasswordHashing {
    /// [`DEFAULT_MEMORY_KIB`], [`DEFAULT_ITERATIONS`], [`DEFAULT_PARALLELISM`]: about 150 ms a
    /// hash on one core of a small server (README, "Password hashing").
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_KIB, DEFAULT_ITERATIONS, DEFAULT_PARALLELISM)
            .expect("the default argon2 parameters are valid")
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

/// What a stored PHC string is, once it is known to be one Mamori may verify.
enum Stored<'a> {
    /// Argon2id with the pepper.
    Peppered(PasswordHash<'a>),
    /// A legacy argon2id output wrapped with HMAC.
    Wrapped(PasswordHash<'a>, Params),
}

/// Argon2id hashing and verification with fixed parameters and the pepper.
///
/// Build one per process and share it; the dummy hash for [`Self::verify_dummy`] is computed
/// once, on first use.
pub struct PepperedHashing {
    cost: PasswordHashing,
    pepper: Pepper,
    /// The PHC string of [`DUMMY_PASSWORD`] under `cost`; `None` only if hashing it failed.
    dummy: OnceLock<Option<String>>,
}

impl PepperedHashing {
    /// The configured cost.
    pub fn cost(&self) -> &PasswordHashing {
        &self.cost
    }

    fn argon2(&self) -> Result<Argon2<'_>, PasswordHashError> {
        Argon2::new_with_secret(
            &self.pepper.secret,
            Algorithm::Argon2id,
            Version::V0x13,
            self.cost.params.clone(),
        )
        .map_err(|e| PasswordHashError::InvalidParams(e.to_string()))
    }

    /// Hashes `password` with the pepper and a fresh random salt and returns the PHC string
    /// (`$argon2id$v=19$m=..,t=..,p=..,keyid=cDE$<salt>$<hash>`).
    pub fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| PasswordHashError::Random(e.to_string()))?;
        self.hash_with_salt(password, &salt)
    }

    fn hash_with_salt(&self, password: &str, salt: &[u8]) -> Result<String, PasswordHashError> {
        let salt =
            SaltString::encode_b64(salt).map_err(|e| PasswordHashError::Hash(e.to_string()))?;
        self.argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| PasswordHashError::Hash(e.to_string()))
    }

    /// Whether `password` matches the stored PHC string `phc`.
    ///
    /// Only a [`PEPPERED`] or [`WRAPPED`] Argon2id v19 hash with parameters this configuration
    /// admits can match; the final comparison is constant-time. Anything else — a hash made
    /// without the pepper, with another pepper, outsized, or not a PHC string at all — gives
    /// `false` rather than an error or a panic.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        match self.stored(phc) {
            Some(Stored::Peppered(hash)) => self
                .argon2()
                .is_ok_and(|argon2| argon2.verify_password(password.as_bytes(), &hash).is_ok()),
            Some(Stored::Wrapped(hash, params)) => self.verify_wrapped(password, &hash, params),
            None => false,
        }
    }

    fn verify_wrapped(&self, password: &str, hash: &PasswordHash<'_>, params: Params) -> bool {
        let Some(stored) = hash
            .hash
            .and_then(|output| <[u8; HASH_LEN]>::try_from(output.as_bytes()).ok())
        else {
            return false;
        };
        let Some(salt) = hash.salt else {
            return false;
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        // The legacy hash was made without a secret; only its wrapping needs the pepper.
        let legacy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut output = [0u8; HASH_LEN];
        if legacy
            .hash_password_into(password.as_bytes(), salt_bytes, &mut output)
            .is_err()
        {
            return false;
        }
        let wrapped = hmac_sha256(&self.pepper.wrap, &output);
        wrapped.ct_eq(&stored).into()
    }

    /// Classifies `phc`: `None` unless it is an Argon2id v19 hash of a known kind whose
    /// parameters this configuration admits (a refusal for outsized parameters is logged).
    fn stored<'a>(&self, phc: &'a str) -> Option<Stored<'a>> {
        let hash = PasswordHash::new(phc).ok()?;
        if hash.algorithm != Algorithm::Argon2id.ident()
            || hash.version != Some(Version::V0x13.into())
        {
            return None;
        }
        let params = Params::try_from(&hash).ok()?;
        if !self.cost.admits(&params) {
            tracing::warn!(
                stored.memory_kib = params.m_cost(),
                stored.iterations = params.t_cost(),
                stored.lanes = params.p_cost(),
                configured.memory_kib = self.cost.memory_kib(),
                configured.iterations = self.cost.iterations(),
                configured.lanes = self.cost.parallelism(),
                "a stored password hash asks for far more work than configured; refused unchecked"
            );
            return None;
        }
        match params.keyid() {
            PEPPERED => Some(Stored::Peppered(hash)),
            WRAPPED => Some(Stored::Wrapped(hash, without_key_id(&params)?)),
            _ => None,
        }
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
    /// (after a successful login, while the clear password is at hand): true unless `phc` is a
    /// [`PEPPERED`] Argon2id v19 hash with exactly the configured parameters — so every
    /// [`WRAPPED`] one. Also true for an unreadable string.
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
                params.keyid() != PEPPERED
                    || params.m_cost() != self.cost.memory_kib()
                    || params.t_cost() != self.cost.iterations()
                    || params.p_cost() != self.cost.parallelism()
                    || output_len(&params) != HASH_LEN
            }
            Err(_) => true,
        }
    }

    /// The [`WRAPPED`] form of a legacy hash (see [`is_legacy`]): the same parameters and salt,
    /// the output replaced by HMAC-SHA256 of it under the pepper's wrap key. Made without the
    /// clear password, so an operator can upgrade every stored hash at once. `None` when `phc`
    /// is not a legacy hash Mamori made (Argon2id v19 with a 32-byte output and no key id or
    /// associated data).
    pub fn wrap_legacy(&self, phc: &str) -> Option<String> {
        if !is_legacy(phc) {
            return None;
        }
        let hash = PasswordHash::new(phc).ok()?;
        if hash.version != Some(Version::V0x13.into()) {
            return None;
        }
        let params = Params::try_from(&hash).ok()?;
        if !params.data().is_empty() {
            return None;
        }
        let output = <[u8; HASH_LEN]>::try_from(hash.hash?.as_bytes()).ok()?;
        let wrapped_params = ParamsBuilder::new()
            .m_cost(params.m_cost())
            .t_cost(params.t_cost())
            .p_cost(params.p_cost())
            .output_len(HASH_LEN)
            .keyid(key_id(WRAPPED))
            .build()
            .ok()?;
        let wrapped = PasswordHash {
            algorithm: hash.algorithm,
            version: hash.version,
            params: (&wrapped_params).try_into().ok()?,
            salt: hash.salt,
            hash: Some(Output::new(&hmac_sha256(&self.pepper.wrap, &output)).ok()?),
        };
        Some(wrapped.to_string())
    }
}

impl fmt::Debug for PepperedHashing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PepperedHashing")
            .field("cost", &self.cost)
            .field("pepper", &self.pepper)
            .finish()
    }
}

/// Whether `phc` is an Argon2id hash made before the pepper: no `keyid`. Such a hash never
/// verifies; `mamori passwords pepper` wraps it ([`PepperedHashing::wrap_legacy`]).
pub fn is_legacy(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        hash.algorithm == Algorithm::Argon2id.ident() && hash.params.get("keyid").is_none()
    })
}

fn key_id(id: &[u8]) -> KeyId {
    KeyId::new(id).expect("a key id of two bytes is within argon2's limit")
}

/// `params` without their key id, to recompute the legacy hash a wrapped one was made from.
fn without_key_id(params: &Params) -> Option<Params> {
    Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(output_len(params)),
    )
    .ok()
}

/// The hash length in bytes (argon2's default of 32 when unset).
fn output_len(params: &Params) -> usize {
    params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small parameters so the tests are fast.
    fn fast() -> PepperedHashing {
        PasswordHashing::new(1024, 1, 1)
            .unwrap()
            .with_pepper(Pepper::new([7; 32]))
    }

    /// A hash as Mamori made them before the pepper: argon2id without a secret or key id.
    fn legacy_hash(password: &str, memory_kib: u32) -> String {
        let salt = SaltString::encode_b64(b"legacy-salt-0001").unwrap();
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(memory_kib, 1, 1, None).unwrap(),
        )
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
    }

    #[test]
    fn hash_then_verify() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        assert!(
            phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1,keyid=cDE$"),
            "{phc}"
        );
        assert!(hashing.verify("abc123", &phc));
        assert!(!hashing.needs_rehash(&phc));
        assert!(!is_legacy(&phc));
    }

    #[test]
    fn the_pepper_is_argon2s_secret_input() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        let hash = PasswordHash::new(&phc).unwrap();
        let with_secret = Argon2::new_with_secret(
            &[7; 32],
            Algorithm::Argon2id,
            Version::V0x13,
            Params::default(),
        )
        .unwrap();
        assert!(with_secret.verify_password(b"abc123", &hash).is_ok());
        assert!(Argon2::default().verify_password(b"abc123", &hash).is_err());
    }

    /// A database writer who stores the plain argon2id hash of a password they know does not
    /// get in with it.
    #[test]
    fn a_hash_made_without_the_pepper_is_refused() {
        let hashing = fast();
        let planted = legacy_hash("known-to-the-writer1", 1024);
        assert!(is_legacy(&planted));
        assert!(!hashing.verify("known-to-the-writer1", &planted));
        // Nor with the peppered key id pasted on: argon2 then needs the pepper.
        let relabelled = planted.replacen("p=1$", "p=1,keyid=cDE$", 1);
        assert!(!hashing.verify("known-to-the-writer1", &relabelled));
        let other_key_id = planted.replacen("p=1$", "p=1,keyid=cDI$", 1);
        assert!(!hashing.verify("known-to-the-writer1", &other_key_id));
    }

    #[test]
    fn another_pepper_is_refused() {
        let phc = fast().hash("abc123").unwrap();
        let other = PasswordHashing::new(1024, 1, 1)
            .unwrap()
            .with_pepper(Pepper::new([8; 32]));
        assert!(!other.verify("abc123", &phc));
        let wrapped = fast().wrap_legacy(&legacy_hash("abc123", 1024)).unwrap();
        assert!(!other.verify("abc123", &wrapped));
    }

    #[test]
    fn a_wrapped_legacy_hash_verifies_and_needs_rehash() {
        let hashing = fast();
        let legacy = legacy_hash("abc123", 2048);
        let wrapped = hashing.wrap_legacy(&legacy).unwrap();
        assert!(
            wrapped.starts_with("$argon2id$v=19$m=2048,t=1,p=1,keyid=dzE$"),
            "{wrapped}"
        );
        // Same salt, another output.
        assert_eq!(legacy.split('$').nth(4), wrapped.split('$').nth(4));
        assert_ne!(legacy.split('$').nth(5), wrapped.split('$').nth(5));
        assert!(hashing.verify("abc123", &wrapped));
        assert!(!hashing.verify("abc124", &wrapped));
        assert!(hashing.needs_rehash(&wrapped));
        assert!(!is_legacy(&wrapped));
        // Only a legacy hash is wrapped, once.
        assert_eq!(hashing.wrap_legacy(&wrapped), None);
        assert_eq!(hashing.wrap_legacy(&hashing.hash("abc123").unwrap()), None);
        assert_eq!(hashing.wrap_legacy("not a hash"), None);
    }

    /// The wrap is HMAC-SHA256 of the legacy output under a key derived from the pepper: the
    /// same output wrapped by hand matches.
    #[test]
    fn the_wrap_is_hmac_of_the_legacy_output() {
        let hashing = fast();
        let legacy = legacy_hash("abc123", 1024);
        let output = PasswordHash::new(&legacy).unwrap().hash.unwrap();
        let wrap_key = hmac_sha256(&[7; 32], WRAP_INFO);
        let expected = hmac_sha256(&wrap_key, output.as_bytes());
        let wrapped = hashing.wrap_legacy(&legacy).unwrap();
        let stored = PasswordHash::new(&wrapped).unwrap().hash.unwrap();
        assert_eq!(stored.as_bytes(), expected);
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
            "$argon2id$v=19$m=1024,t=1,p=1,keyid=cDE$",
            "$argon2id$v=19$m=1024,t=1,p=1,keyid=cDE$!!!!$!!!!",
            "$argon2id$v=19$m=0,t=0,p=0,keyid=cDE$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=1024,t=1,p=1,keyid=dzE$c2FsdHNhbHRzYWx0$aGFzaA",
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
    fn other_argon2_variants_and_versions_are_refused() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        let argon2i = phc.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!hashing.verify("abc123", &argon2i));
        let v16 = phc.replacen("$v=19$", "$v=16$", 1);
        assert!(!hashing.verify("abc123", &v16));
    }

    #[test]
    fn huge_parameters_in_a_stored_hash_are_refused_without_allocating() {
        let hashing = fast();
        let phc = hashing.hash("abc123").unwrap();
        let huge = phc.replacen("m=1024", "m=4294967295", 1);
        assert!(!hashing.verify("abc123", &huge));
        let many = phc.replacen("t=1,", "t=1000000,", 1);
        assert!(!hashing.verify("abc123", &many));
    }

    /// Parameters within the absolute caps but more than four times the configured ones are
    /// refused without computing: a database writer could otherwise make one user's logins cost
    /// up to 1 GiB each.
    #[test]
    fn outsized_stored_parameters_are_refused() {
        let small = PasswordHashing::new(1024, 1, 1)
            .unwrap()
            .with_pepper(Pepper::new([7; 32]));
        let at_limit = PasswordHashing::new(4096, 4, 4)
            .unwrap()
            .with_pepper(Pepper::new([7; 32]));
        let phc = at_limit.hash("abc123").unwrap();
        assert!(small.verify("abc123", &phc), "four times is still admitted");
        assert!(small.needs_rehash(&phc));
        for outsized in [(8192, 1, 1), (1024, 5, 1), (1024, 1, 5)] {
            let (m, t, p) = outsized;
            let big = PasswordHashing::new(m, t, p)
                .unwrap()
                .with_pepper(Pepper::new([7; 32]));
            let phc = big.hash("abc123").unwrap();
            assert!(big.verify("abc123", &phc));
            assert!(!small.verify("abc123", &phc), "{outsized:?}");
        }
        let legacy = legacy_hash("abc123", 8192);
        let wrapped = small.wrap_legacy(&legacy).unwrap();
        assert!(!small.verify("abc123", &wrapped));
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
        let old = PasswordHashing::new(2048, 1, 1)
            .unwrap()
            .with_pepper(Pepper::new([7; 32]));
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
            dummy.starts_with("$argon2id$v=19$m=1024,t=1,p=1,keyid=cDE$"),
            "{dummy}"
        );
        assert!(!hashing.needs_rehash(&dummy));
        hashing.verify_dummy("abc123");
    }

    #[test]
    fn default_is_rfc_9106s_second_option_on_one_lane_and_works() {
        let cost = PasswordHashing::default();
        assert_eq!(
            (cost.memory_kib(), cost.iterations(), cost.parallelism()),
            (64 * 1024, 3, 1)
        );
        let hashing = cost.with_pepper(Pepper::new([7; 32]));
        let phc = hashing.hash("Abc123def456").unwrap();
        assert!(
            phc.starts_with("$argon2id$v=19$m=65536,t=3,p=1,keyid=cDE$"),
            "{phc}"
        );
        assert!(hashing.verify("Abc123def456", &phc));
        assert!(!hashing.verify("Abc123def457", &phc));
    }

    #[test]
    fn debug_shows_parameters_only() {
        let hashing = fast();
        hashing.verify_dummy("abc123");
        let debug = format!("{hashing:?}");
        assert_eq!(
            debug,
            "PepperedHashing { cost: PasswordHashing { algorithm: \"argon2id\", memory_kib: 1024, iterations: 1, parallelism: 1 }, pepper: Pepper(**redacted**) }"
        );
        assert!(!debug.contains(DUMMY_PASSWORD));
    }
}
