//! Login passwords (ログインパスワード) under each bank's rules: hashing (argon2id with the
//! pepper), the rules and history a new password must pass, and the reserve-first check that
//! counts wrong passwords and locks at the bank's limit. Shared by users, login, the support
//! desk, operators and self-issued tokens.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_crypto::password::PEPPER_PURPOSE;
use mamori_crypto::{PasswordHashing, Pepper, PepperedHashing};
use mamori_domain::ErrorCode;
use mamori_domain::password::{check_new_password, remembered_passwords};
use mamori_domain::policy::{PasswordManagement, TenantPolicy};
use mamori_store::passwords;
use mamori_store::users::UserRow;
use rand::distr::{Uniform, uniform};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng as _};
use tokio::sync::{OnceCell, Semaphore};

use crate::core::Core;
use crate::error::ServiceError;

/// Why a password check failed, for the audit entry (never the password).
pub(crate) type FailureNote = Option<&'static str>;

/// Password hashing and checking.
#[derive(Debug, Clone)]
pub(crate) struct Passwords {
    core: Core,
    cost: PasswordHashing,
    /// The hashing with the pepper, made the first time a password is hashed or checked (the
    /// pepper is a subkey, whose root is read from the database).
    peppered: Arc<OnceCell<Arc<PepperedHashing>>>,
    /// Argon2 runs at most this many at once, on blocking threads: each holds the configured
    /// memory (64 MiB by default), so a burst of logins must queue rather than exhaust memory
    /// or starve the async workers.
    permits: Arc<Semaphore>,
}

/// How many argon2 computations may run at once: twice the cores, so the cores stay busy
/// while a finished one hands back its thread, and memory stays at a few hundred MiB.
fn concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

impl Passwords {
    pub(crate) fn new(core: Core, cost: PasswordHashing) -> Self {
        Self {
            core,
            cost,
            peppered: Arc::default(),
            permits: Arc::new(Semaphore::new(concurrent_hashes())),
        }
    }

    pub(crate) async fn peppered(&self) -> Result<Arc<PepperedHashing>, ServiceError> {
        self.peppered
            .get_or_try_init(|| async {
                let pepper = crate::keys::subkey(&self.core, PEPPER_PURPOSE).await?;
                Ok(Arc::new(self.cost.with_pepper(Pepper::new(pepper))))
            })
            .await
            .cloned()
    }

    /// Runs `work` on a blocking thread once a permit is free.
    async fn argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PepperedHashing) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let hashing = self.peppered().await?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        tokio::task::spawn_blocking(move || work(&hashing))
            .await
            .map_err(ServiceError::internal)
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, ServiceError> {
        let password = password.to_owned();
        self.argon2(move |hashing| hashing.hash(&password))
            .await?
            .map_err(ServiceError::internal)
    }

    /// Whether `password` matches the stored `hash`.
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<bool, ServiceError> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.argon2(move |hashing| hashing.verify(&password, &hash))
            .await
    }

    /// Whether `password` matches any of `hashes`, each checked (no early return, so the time
    /// says nothing about which one matched).
    async fn verify_any(&self, password: &str, hashes: Vec<String>) -> Result<bool, ServiceError> {
        let password = password.to_owned();
        self.argon2(move |hashing| {
            hashes
                .iter()
                .fold(false, |any, hash| hashing.verify(&password, hash) | any)
        })
        .await
    }

    /// The same argon2 work as a real check, for answers that must not reveal anything.
    pub(crate) async fn verify_dummy(&self, password: &str) -> Result<(), ServiceError> {
        let password = password.to_owned();
        self.argon2(move |hashing| hashing.verify_dummy(&password))
            .await
    }

    /// After a right password: a new hash of it when the stored one is wrapped or made at
    /// another cost (see [`PepperedHashing::needs_rehash`]), `None` when it is current.
    pub(crate) async fn rehash(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<Option<String>, ServiceError> {
        if !self.peppered().await?.needs_rehash(stored) {
            return Ok(None);
        }
        self.hash(password).await.map(Some)
    }

    /// Refused where the bank keeps its customers' passwords itself.
    pub(crate) fn require_managed(policy: &TenantPolicy) -> Result<(), ServiceError> {
        if policy.password.managed_by == PasswordManagement::Bank {
            return Err(ServiceError::rejected(ErrorCode::PasswordNotManaged));
        }
        Ok(())
    }

    /// Checks and hashes a user's first (temporary) login password, as the bank received it on
    /// the customer's application (仮ログインパスワード). Done before the user's transaction:
    /// argon2 is slow and must not hold a write lock.
    pub(crate) async fn prepare_initial(
        &self,
        policy: &TenantPolicy,
        user: &UserRow,
        password: &str,
    ) -> Result<String, ServiceError> {
        Self::require_managed(policy)?;
        self.check_rules(policy, user, password).await?;
        self.hash(password).await
    }

    /// A new password must follow the bank's rules and differ from the current one and the
    /// `history` before it.
    pub(crate) async fn check_rules(
        &self,
        policy: &TenantPolicy,
        user: &UserRow,
        candidate: &str,
    ) -> Result<(), ServiceError> {
        let remembered = remembered_passwords(&policy.password);
        let recent =
            passwords::recent_password_hashes(self.core.db(), &user.id, remembered).await?;
        let recently_used = self.verify_any(candidate, recent).await?;
        let ids = [
            user.contract_number.as_str(),
            user.user_code.as_str(),
            user.display_name.as_str(),
        ];
        check_new_password(&policy.password, candidate, &ids, recently_used)
            .map_err(ServiceError::PasswordRejected)
    }

    /// Checks a password the way every password check must go: reserve an attempt first
    /// (`failures + 1` while unlocked and under the limit), then verify — or, with no attempt
    /// left or no password set, do the same argon2 work on a dummy hash — lock at the limit on
    /// a wrong password, reset the count on a right one. `Err` carries the audit note.
    pub(crate) async fn check(
        &self,
        policy: &TenantPolicy,
        user: &UserRow,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), FailureNote>, ServiceError> {
        let db = self.core.db();
        let limit = i32::try_from(policy.password.lock_threshold.get()).unwrap_or(i32::MAX);
        let granted = passwords::reserve_password_attempt(db, &user.id, limit).await?;
        let right = match (&user.password_hash, granted) {
            (Some(hash), true) => self.verify(password, hash).await?,
            _ => {
                self.verify_dummy(password).await?;
                false
            }
        };
        if right {
            passwords::password_succeeded(db, &user.id).await?;
            if let Some(stored) = &user.password_hash
                && let Some(fresh) = self.rehash(password, stored).await?
            {
                // Only over the hash that was checked: a password changed meanwhile stays.
                passwords::replace_password_hash(db, &user.id, stored, &fresh).await?;
            }
            return Ok(Ok(()));
        }
        if !granted {
            return Ok(Err(Some("locked")));
        }
        let locked = passwords::lock_if_at_limit(db, &user.id, limit, now).await?;
        Ok(Err(locked.then_some("locked_now")))
    }
}

/// A temporary password that satisfies the bank's rules: letters and digits, at least the
/// minimum length (and 10), from a CSPRNG seeded by the OS. Without look-alikes (0/O, 1/l/I)
/// because the support desk reads it out on the phone.
pub(crate) fn temporary_password(policy: &TenantPolicy) -> Result<String, ServiceError> {
    let mut rng = StdRng::try_from_os_rng().map_err(ServiceError::internal)?;
    let len = usize::try_from(
        policy
            .password
            .min_length
            .get()
            .max(10)
            .min(policy.password.max_length.get()),
    )
    .unwrap_or(10);
    temporary_password_from(&mut rng, len).map_err(ServiceError::internal)
}

const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
/// [`LETTERS`] then [`DIGITS`].
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A temporary password of `len` characters drawn from `rng`: every character uniformly from
/// the whole alphabet, then one letter and one digit at two distinct, uniformly chosen
/// positions so both rules always hold. Every draw is a separate `Uniform` sample (rejection
/// sampling, so no modulo bias), and no draw decides two things.
fn temporary_password_from(rng: &mut impl Rng, len: usize) -> Result<String, uniform::Error> {
    let any = Uniform::new(0, ALPHABET.len())?;
    let letter = Uniform::new(0, LETTERS.len())?;
    let digit = Uniform::new(0, DIGITS.len())?;
    let mut out: Vec<u8> = (0..len).map(|_| ALPHABET[rng.sample(any)]).collect();
    let digit_at = rng.sample(Uniform::new(0, len)?);
    // One of the other len - 1 positions.
    let letter_at = rng.sample(Uniform::new(0, len.saturating_sub(1))?);
    let letter_at = if letter_at >= digit_at {
        letter_at + 1
    } else {
        letter_at
    };
    out[digit_at] = DIGITS[rng.sample(digit)];
    out[letter_at] = LETTERS[rng.sample(letter)];
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng;

    use super::*;

    /// Pearson's chi-square of `counts` against equal frequencies over `symbols`.
    fn chi_square(counts: &HashMap<u8, u64>, symbols: &[u8]) -> f64 {
        let total: u64 = symbols
            .iter()
            .map(|s| counts.get(s).copied().unwrap_or(0))
            .sum();
        let expected = total as f64 / symbols.len() as f64;
        symbols
            .iter()
            .map(|s| {
                let seen = counts.get(s).copied().unwrap_or(0) as f64;
                (seen - expected).powi(2) / expected
            })
            .sum()
    }

    /// Within each class, every character is equally likely: the character is drawn on its
    /// own, uniformly, not from the byte that also chose the class. 100 000 passwords from a
    /// fixed seed; the bounds are chi-square's 0.1 % points (47 and 7 degrees of freedom), so
    /// an unbiased generator passes with this seed and a modulo-biased one fails by far.
    #[test]
    fn each_character_of_a_class_is_equally_likely() {
        let mut rng = StdRng::seed_from_u64(13);
        let mut counts: HashMap<u8, u64> = HashMap::new();
        for _ in 0..100_000 {
            for c in temporary_password_from(&mut rng, 10).unwrap().bytes() {
                *counts.entry(c).or_default() += 1;
            }
        }
        let letters = chi_square(&counts, LETTERS);
        let digits = chi_square(&counts, DIGITS);
        assert!(
            letters < 82.7,
            "letters are biased: chi-square {letters:.1}"
        );
        assert!(digits < 24.3, "digits are biased: chi-square {digits:.1}");
    }

    /// Every position is as likely as any other to hold a digit: the forced letter and digit
    /// are not always at the same places, nor placed by a draw that also picked a character.
    #[test]
    fn digits_are_spread_over_every_position() {
        let mut rng = StdRng::seed_from_u64(14);
        let mut digits_at = [0u64; 10];
        let draws = 100_000;
        for _ in 0..draws {
            for (i, c) in temporary_password_from(&mut rng, 10)
                .unwrap()
                .bytes()
                .enumerate()
            {
                if c.is_ascii_digit() {
                    digits_at[i] += 1;
                }
            }
        }
        let total: u64 = digits_at.iter().sum();
        let expected = total as f64 / 10.0;
        let chi: f64 = digits_at
            .iter()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi < 27.9, "digit positions are biased: {digits_at:?}");
    }

    #[test]
    fn the_alphabet_is_the_letters_then_the_digits() {
        assert_eq!(ALPHABET, [LETTERS, DIGITS].concat());
    }

    /// Too short for a letter and a digit: an error, not a panic or a password that breaks
    /// the rules.
    #[test]
    fn fewer_than_two_characters_is_an_error() {
        let mut rng = StdRng::seed_from_u64(16);
        assert!(temporary_password_from(&mut rng, 0).is_err());
        assert!(temporary_password_from(&mut rng, 1).is_err());
        assert_eq!(temporary_password_from(&mut rng, 2).unwrap().len(), 2);
    }

    /// Every password has a letter and a digit, only from the alphabet read out on the phone.
    #[test]
    fn every_password_has_a_letter_and_a_digit() {
        let mut rng = StdRng::seed_from_u64(15);
        for len in [10, 12, 32] {
            for _ in 0..10_000 {
                let p = temporary_password_from(&mut rng, len).unwrap();
                assert_eq!(p.len(), len);
                assert!(p.bytes().any(|c| LETTERS.contains(&c)), "{p}");
                assert!(p.bytes().any(|c| DIGITS.contains(&c)), "{p}");
                assert!(
                    p.bytes()
                        .all(|c| LETTERS.contains(&c) || DIGITS.contains(&c)),
                    "{p}"
                );
            }
        }
    }
}
