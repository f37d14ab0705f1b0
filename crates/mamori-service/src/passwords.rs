//! Login passwords (ログインパスワード) under each bank's rules: hashing (argon2id), the rules
//! and history a new password must pass, and the reserve-first check that counts wrong
//! passwords and locks at the bank's limit. Shared by users, login and the support desk.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_crypto::PasswordHashing;
use mamori_domain::ErrorCode;
use mamori_domain::password::{check_new_password, remembered_passwords};
use mamori_domain::policy::{PasswordManagement, TenantPolicy};
use mamori_store::passwords;
use mamori_store::users::UserRow;

use crate::core::Core;
use crate::error::ServiceError;

/// Why a password check failed, for the audit entry (never the password).
pub(crate) type FailureNote = Option<&'static str>;

/// Password hashing and checking.
#[derive(Debug, Clone)]
pub(crate) struct Passwords {
    core: Core,
    hashing: Arc<PasswordHashing>,
}

impl Passwords {
    pub(crate) fn new(core: Core, hashing: PasswordHashing) -> Self {
        Self {
            core,
            hashing: Arc::new(hashing),
        }
    }

    pub(crate) fn hash(&self, password: &str) -> Result<String, ServiceError> {
        self.hashing.hash(password).map_err(ServiceError::internal)
    }

    pub(crate) fn verify(&self, password: &str, hash: &str) -> bool {
        self.hashing.verify(password, hash)
    }

    /// The same argon2 work as a real check, for answers that must not reveal anything.
    pub(crate) fn verify_dummy(&self, password: &str) {
        self.hashing.verify_dummy(password);
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
        self.hash(password)
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
        let recently_used = recent.iter().any(|hash| self.verify(candidate, hash));
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
            (Some(hash), true) => self.verify(password, hash),
            _ => {
                self.verify_dummy(password);
                false
            }
        };
        if right {
            passwords::password_succeeded(db, &user.id).await?;
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
/// minimum length (and 10), from the OS CSPRNG. Without look-alikes (0/O, 1/l/I) because
/// the support desk reads it out on the phone.
pub(crate) fn temporary_password(policy: &TenantPolicy) -> Result<String, ServiceError> {
    const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let len = usize::try_from(
        policy
            .password
            .min_length
            .get()
            .max(10)
            .min(policy.password.max_length.get()),
    )
    .unwrap_or(10);
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(ServiceError::internal)?;
    let mut out: Vec<u8> = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // Positions 0 and 1 are a letter and a digit so both rules always hold.
            let alphabet: &[u8] = match i {
                0 => LETTERS,
                1 => DIGITS,
                _ if b % 3 == 0 => DIGITS,
                _ => LETTERS,
            };
            alphabet[usize::from(*b) % alphabet.len()]
        })
        .collect();
    out.rotate_left(usize::from(bytes[0]) % len.max(1));
    Ok(String::from_utf8_lossy(&out).into_owned())
}
