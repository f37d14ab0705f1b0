//! The contract login: password (under the bank's policy) then OTP, with single-use login IDs,
//! forced password changes, locks and the support desk's reset and unlock.
//!
//! No oracle: an unknown user, a wrong password and a locked user get the same error and cost
//! the same argon2 work.

use chrono::{DateTime, Duration, Utc};
use mamori_domain::ErrorCode;
use mamori_domain::password::{check_new_password, password_expired, password_lock_expired};
use mamori_domain::policy::{PasswordManagement, TenantPolicy};
use mamori_store::StoreError;
use mamori_store::passwords::{self, LoginSessionRow};
use mamori_store::records::{self, UserRow};

use crate::{BankCaller, RequestMeta, ServiceError, Services};

/// How long a login ID lives.
pub const LOGIN_TTL_MINUTES: i64 = 5;

/// What the bank's IB must ask the customer for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// The current OTP (completeLogin).
    OtpRequired,
    /// A new password (first login, after a reset, or expired) before anything else.
    PasswordChangeRequired,
    /// The bank requires an OTP but the user has no token: register one first.
    OtpRegistrationRequired,
    /// Logged in.
    Complete,
}

impl NextStep {
    /// The API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OtpRequired => "otp_required",
            Self::PasswordChangeRequired => "password_change_required",
            Self::OtpRegistrationRequired => "otp_registration_required",
            Self::Complete => "complete",
        }
    }
}

/// A login in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStarted {
    /// The single-use login ID (absent once complete).
    pub login_id: Option<String>,
    /// What comes next.
    pub next_step: NextStep,
    /// The user (Mamori ID).
    pub user_id: String,
    /// Until when the login ID works.
    pub expires_at: Option<DateTime<Utc>>,
    /// The signed receipt (JWT, `amr: ["pwd"]`) when the login is complete.
    pub receipt: Option<String>,
}

/// A completed login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCompleted {
    /// The user (Mamori ID).
    pub user_id: String,
    /// The authentication methods used: `pwd`, `otp`.
    pub amr: Vec<&'static str>,
    /// When the login completed.
    pub auth_time: DateTime<Utc>,
    /// The signed receipt (JWT) the bank can verify offline.
    pub receipt: String,
}

mod op {
    pub const START: &str = "startLogin";
    pub const COMPLETE: &str = "completeLogin";
    pub const CHANGE: &str = "changePassword";
    pub const RESET: &str = "resetPassword";
    pub const UNLOCK: &str = "unlockUser";
    pub const AUTO_UNLOCK: &str = "autoUnlockUser";
}

impl Services {
    /// Checks and hashes a user's first (temporary) login password, as the bank received it on
    /// the customer's application (仮ログインパスワード). Done before the user's transaction:
    /// argon2 is slow and must not hold a write lock.
    pub(crate) async fn prepare_initial_password(
        &self,
        policy: &TenantPolicy,
        user: &UserRow,
        password: &str,
    ) -> Result<String, ServiceError> {
        if policy.password.managed_by == PasswordManagement::Bank {
            return Err(ServiceError::rejected(ErrorCode::PasswordNotManaged));
        }
        self.check_password_rules(policy, user, password).await?;
        self.hash_password(password)
    }

    /// startLogin: contract number (+ user ID) and password. Answers the next step with a
    /// single-use login ID valid for 5 minutes.
    pub async fn start_login(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        contract_number: &str,
        user_code: Option<&str>,
        password: &str,
    ) -> Result<LoginStarted, ServiceError> {
        let policy = self.policy(caller).await?;
        if policy.password.managed_by == PasswordManagement::Bank {
            return Err(ServiceError::rejected(ErrorCode::PasswordNotManaged));
        }
        let now = self.now();
        let conn = self.db().connection();
        let found = records::find_user_by_contract(
            conn,
            caller.tenant_id.as_str(),
            contract_number.trim(),
            user_code.unwrap_or("").trim(),
        )
        .await?;
        let failed = || ServiceError::rejected(ErrorCode::LoginFailed);
        let Some(user) = found else {
            self.passwords.verify_dummy(password);
            self.audit_login(caller, meta, op::START, None, Err(&failed()), None, now)
                .await?;
            return Err(failed());
        };
        if user.password_hash.is_none() {
            self.passwords.verify_dummy(password);
            self.audit_login(
                caller,
                meta,
                op::START,
                Some(&user.id),
                Err(&failed()),
                None,
                now,
            )
            .await?;
            return Err(failed());
        }
        if let Some(locked_at) = user.password_locked_at
            && password_lock_expired(&policy.password, locked_at, now)
            && passwords::unlock_password(conn, &user.id, Some(locked_at)).await?
        {
            // Unlike VIP, a timed unlock is written to the audit trail when it happens.
            self.audit_login(
                caller,
                meta,
                op::AUTO_UNLOCK,
                Some(&user.id),
                Ok(()),
                None,
                now,
            )
            .await?;
        }
        if let Err(note) = self.check_password(&policy, &user, password, now).await? {
            self.audit_login(
                caller,
                meta,
                op::START,
                Some(&user.id),
                Err(&failed()),
                note,
                now,
            )
            .await?;
            return Err(failed());
        }
        tracing::debug!(tenant.id = %caller.tenant_id, user.id = %user.id, "password accepted");

        let next_step = if user.password_must_change
            || user
                .password_changed_at
                .is_some_and(|changed| password_expired(&policy.password, changed, now))
        {
            NextStep::PasswordChangeRequired
        } else {
            self.after_password(caller, &user, &policy).await?
        };
        let started = self.open_login(caller, &user, next_step, now).await?;
        self.audit_login(
            caller,
            meta,
            op::START,
            Some(&user.id),
            Ok(()),
            Some(next_step.as_str()),
            now,
        )
        .await?;
        Ok(started)
    }

    /// completeLogin: the login ID and the current OTP.
    pub async fn complete_login(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        login_id: &str,
        otp: &str,
    ) -> Result<LoginCompleted, ServiceError> {
        let now = self.now();
        let login = self
            .open_login_of(caller, login_id, NextStep::OtpRequired, now)
            .await?;
        // The code is checked, counted and spent like verifyOtp.
        self.verify_otp(caller, meta, &login.user_id, otp).await?;
        if !passwords::advance_login(
            self.db().connection(),
            login_id,
            NextStep::OtpRequired.as_str(),
            NextStep::Complete.as_str(),
            true,
            now,
        )
        .await?
        {
            return Err(ServiceError::rejected(ErrorCode::LoginExpired));
        }
        self.audit_login(
            caller,
            meta,
            op::COMPLETE,
            Some(&login.user_id),
            Ok(()),
            None,
            now,
        )
        .await?;
        let amr = vec!["pwd", "otp"];
        let receipt = self
            .login_receipt(caller, &login.user_id, &amr, now)
            .await?;
        Ok(LoginCompleted {
            user_id: login.user_id,
            amr,
            auth_time: now,
            receipt,
        })
    }

    /// changePassword inside the login flow: the new password must follow the bank's rules
    /// and differ from the last N; then the login goes on to its next step.
    pub async fn change_password(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        login_id: &str,
        new_password: &str,
    ) -> Result<LoginStarted, ServiceError> {
        // The user in the path first: another bank's user is "not found" like any missing one.
        let user = records::find_user(self.db().connection(), caller.tenant_id.as_str(), user_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let policy = self.policy(caller).await?;
        let now = self.now();
        let login = self
            .open_login_of(caller, login_id, NextStep::PasswordChangeRequired, now)
            .await?;
        if login.user_id != user.id {
            return Err(ServiceError::rejected(ErrorCode::LoginExpired));
        }
        if let Err(err) = self
            .check_password_rules(&policy, &user, new_password)
            .await
        {
            self.audit_login(
                caller,
                meta,
                op::CHANGE,
                Some(&user.id),
                Err(&err),
                None,
                now,
            )
            .await?;
            return Err(err);
        }
        let hash = self.hash_password(new_password)?;
        let next_step = self.after_password(caller, &user, &policy).await?;
        let txn = self.begin().await?;
        let finish = next_step == NextStep::Complete;
        if !passwords::advance_login(
            &txn,
            login_id,
            NextStep::PasswordChangeRequired.as_str(),
            next_step.as_str(),
            finish,
            now,
        )
        .await?
        {
            return Err(ServiceError::rejected(ErrorCode::LoginExpired));
        }
        passwords::set_password(
            &txn,
            &user.id,
            &hash,
            false,
            policy.password.history.get(),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.audit_login(
            caller,
            meta,
            op::CHANGE,
            Some(&user.id),
            Ok(()),
            Some(next_step.as_str()),
            now,
        )
        .await?;
        let receipt = match finish {
            true => Some(self.login_receipt(caller, &user.id, &["pwd"], now).await?),
            false => None,
        };
        Ok(LoginStarted {
            login_id: (!finish).then(|| login_id.to_owned()),
            next_step,
            user_id: user.id,
            expires_at: (!finish).then_some(login.expires_at),
            receipt,
        })
    }

    /// changePassword for a logged-in user: the current password (checked and counted like a
    /// login) and the new one (under the bank's rules and history).
    pub async fn change_password_with_current(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        current_password: &str,
        new_password: &str,
    ) -> Result<LoginStarted, ServiceError> {
        let policy = self.policy(caller).await?;
        if policy.password.managed_by == PasswordManagement::Bank {
            return Err(ServiceError::rejected(ErrorCode::PasswordNotManaged));
        }
        let now = self.now();
        let conn = self.db().connection();
        let user = records::find_user(conn, caller.tenant_id.as_str(), user_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let failed = || ServiceError::rejected(ErrorCode::LoginFailed);
        if let Err(note) = self
            .check_password(&policy, &user, current_password, now)
            .await?
        {
            self.audit_login(
                caller,
                meta,
                op::CHANGE,
                Some(&user.id),
                Err(&failed()),
                note,
                now,
            )
            .await?;
            return Err(failed());
        }
        if let Err(err) = self
            .check_password_rules(&policy, &user, new_password)
            .await
        {
            self.audit_login(
                caller,
                meta,
                op::CHANGE,
                Some(&user.id),
                Err(&err),
                None,
                now,
            )
            .await?;
            return Err(err);
        }
        let hash = self.hash_password(new_password)?;
        let txn = self.begin().await?;
        passwords::set_password(
            &txn,
            &user.id,
            &hash,
            false,
            policy.password.history.get(),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.audit_login(caller, meta, op::CHANGE, Some(&user.id), Ok(()), None, now)
            .await?;
        Ok(LoginStarted {
            login_id: None,
            next_step: NextStep::Complete,
            user_id: user.id,
            expires_at: None,
            receipt: None,
        })
    }

    /// Checks a password the way every password check must go: reserve an attempt first
    /// (`failures + 1` while unlocked and under the limit), then verify — or, with no attempt
    /// left or no password set, do the same argon2 work on a dummy hash — lock at the limit on a
    /// wrong password, reset the count on a right one. `Err` carries the audit note.
    async fn check_password(
        &self,
        policy: &TenantPolicy,
        user: &UserRow,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Option<&'static str>>, ServiceError> {
        let conn = self.db().connection();
        let limit = i32::try_from(policy.password.lock_threshold.get()).unwrap_or(i32::MAX);
        let granted = passwords::reserve_password_attempt(conn, &user.id, limit).await?;
        let right = match (&user.password_hash, granted) {
            (Some(hash), true) => self.passwords.verify(password, hash),
            _ => {
                self.passwords.verify_dummy(password);
                false
            }
        };
        if right {
            passwords::password_succeeded(conn, &user.id).await?;
            return Ok(Ok(()));
        }
        if !granted {
            return Ok(Err(Some("locked")));
        }
        let locked = passwords::lock_if_at_limit(conn, &user.id, limit, now).await?;
        Ok(Err(locked.then_some("locked_now")))
    }

    /// resetPassword by the bank's support desk: a temporary password (shown once) that must
    /// be changed at the next login; the password lock is lifted.
    pub async fn reset_password(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<String, ServiceError> {
        let user = records::find_user(self.db().connection(), caller.tenant_id.as_str(), user_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let policy = self.policy(caller).await?;
        if policy.password.managed_by == PasswordManagement::Bank {
            return Err(ServiceError::rejected(ErrorCode::PasswordNotManaged));
        }
        let now = self.now();
        let temporary = temporary_password(&policy)?;
        let hash = self.hash_password(&temporary)?;
        let txn = self.begin().await?;
        passwords::set_password(
            &txn,
            &user.id,
            &hash,
            policy.password.force_change_after_reset,
            policy.password.history.get(),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.audit_login(caller, meta, op::RESET, Some(&user.id), Ok(()), None, now)
            .await?;
        Ok(temporary)
    }

    /// unlockUser by the bank's support desk: lifts a password lock.
    pub async fn unlock_user(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<(), ServiceError> {
        let user = records::find_user(self.db().connection(), caller.tenant_id.as_str(), user_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        let now = self.now();
        passwords::unlock_password(self.db().connection(), &user.id, None).await?;
        self.audit_login(caller, meta, op::UNLOCK, Some(&user.id), Ok(()), None, now)
            .await?;
        Ok(())
    }

    async fn check_password_rules(
        &self,
        policy: &TenantPolicy,
        user: &UserRow,
        candidate: &str,
    ) -> Result<(), ServiceError> {
        let generations = policy.password.history.get();
        let recent =
            passwords::recent_password_hashes(self.db().connection(), &user.id, generations)
                .await?;
        let recently_used = recent
            .iter()
            .any(|hash| self.passwords.verify(candidate, hash));
        let ids = [
            user.contract_number.as_str(),
            user.user_code.as_str(),
            user.display_name.as_str(),
        ];
        check_new_password(&policy.password, candidate, &ids, recently_used)
            .map_err(ServiceError::PasswordRejected)
    }

    pub(crate) fn hash_password(&self, password: &str) -> Result<String, ServiceError> {
        self.passwords
            .hash(password)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// After a good password: OTP next if the bank requires it (and the user has a token).
    async fn after_password(
        &self,
        caller: &BankCaller,
        user: &UserRow,
        policy: &TenantPolicy,
    ) -> Result<NextStep, ServiceError> {
        if !policy.otp.required_at_login {
            return Ok(NextStep::Complete);
        }
        let live =
            records::find_live_binding(self.db().connection(), caller.tenant_id.as_str(), &user.id)
                .await?;
        Ok(if live.is_some() {
            NextStep::OtpRequired
        } else {
            NextStep::OtpRegistrationRequired
        })
    }

    async fn open_login(
        &self,
        caller: &BankCaller,
        user: &UserRow,
        next_step: NextStep,
        now: DateTime<Utc>,
    ) -> Result<LoginStarted, ServiceError> {
        if next_step == NextStep::Complete {
            return Ok(LoginStarted {
                login_id: None,
                next_step,
                user_id: user.id.clone(),
                expires_at: None,
                receipt: Some(self.login_receipt(caller, &user.id, &["pwd"], now).await?),
            });
        }
        let id = format!("lgn_{}", uuid::Uuid::new_v4().simple());
        let expires_at = now + Duration::minutes(LOGIN_TTL_MINUTES);
        passwords::insert_login_session(
            self.db().connection(),
            LoginSessionRow {
                id: id.clone(),
                tenant_id: caller.tenant_id.to_string(),
                user_id: user.id.clone(),
                stage: next_step.as_str().to_owned(),
                created_at: now,
                expires_at,
                used_at: None,
            },
        )
        .await?;
        Ok(LoginStarted {
            login_id: Some(id),
            next_step,
            user_id: user.id.clone(),
            expires_at: Some(expires_at),
            receipt: None,
        })
    }

    async fn open_login_of(
        &self,
        caller: &BankCaller,
        login_id: &str,
        stage: NextStep,
        now: DateTime<Utc>,
    ) -> Result<LoginSessionRow, ServiceError> {
        passwords::find_open_login(
            self.db().connection(),
            caller.tenant_id.as_str(),
            login_id,
            now,
        )
        .await?
        .filter(|login| login.stage == stage.as_str())
        .ok_or_else(|| ServiceError::rejected(ErrorCode::LoginExpired))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one audit entry has that many facts"
    )]
    async fn audit_login(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        operation: &str,
        user_id: Option<&str>,
        outcome: Result<(), &ServiceError>,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let txn = self.begin().await?;
        let details = note.map(|n| serde_json::json!({ "note": n }));
        self.audit_entry(
            &txn, caller, meta, operation, user_id, None, outcome, details, now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

/// A temporary password that satisfies the bank's rules: letters and digits, at least the
/// minimum length (and 10), from the OS CSPRNG. Without look-alikes (0/O, 1/l/I) because
/// the support desk reads it out on the phone.
fn temporary_password(policy: &TenantPolicy) -> Result<String, ServiceError> {
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
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
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
