//! The contract login: password (under the bank's policy) then OTP, with single-use login IDs
//! and forced password changes.
//!
//! No oracle: an unknown user, a wrong password and a locked user get the same error and cost
//! the same argon2 work.

use chrono::{DateTime, Duration, Utc};
use mamori_domain::password::{password_expired, password_lock_expired, remembered_passwords};
use mamori_domain::policy::TenantPolicy;
use mamori_domain::{ErrorCode, LoginStep, Operation};
use mamori_store::bindings;
use mamori_store::passwords::{self as stored, LoginSessionRow};
use mamori_store::users::{self, UserRow};
use serde_json::json;

use crate::core::audit::AuditEntry;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::otp::BankOtp;
use crate::passwords::{FailureNote, Passwords};
use crate::receipts::Receipts;
use crate::users::identifier_key;

/// How long a login ID lives.
pub const LOGIN_TTL_MINUTES: i64 = 5;

/// A login in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStarted {
    /// The single-use login ID (absent once complete).
    pub login_id: Option<String>,
    /// What comes next.
    pub next_step: LoginStep,
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

/// Contract logins.
#[derive(Debug, Clone)]
pub struct Login {
    core: Core,
    passwords: Passwords,
    otp: BankOtp,
    receipts: Receipts,
}

impl Login {
    pub(crate) fn new(core: Core, passwords: Passwords, otp: BankOtp, receipts: Receipts) -> Self {
        Self {
            core,
            passwords,
            otp,
            receipts,
        }
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
        let core = &self.core;
        let policy = core.policy(caller).await?;
        Passwords::require_managed(&policy)?;
        let now = core.now();
        let found = users::find_user_by_contract(
            core.db(),
            caller.tenant_id.as_str(),
            &identifier_key(contract_number),
            &identifier_key(user_code.unwrap_or("")),
        )
        .await?;
        let entry = AuditEntry::bank(caller, meta, Operation::StartLogin, now);
        let failed = || ServiceError::rejected(ErrorCode::LoginFailed);
        let Some(user) = found else {
            self.passwords.verify_dummy(password).await?;
            return core.refuse(entry, failed()).await;
        };
        let entry = entry.user(&user.id);
        if user.password_hash.is_none() {
            self.passwords.verify_dummy(password).await?;
            return core.refuse(entry, failed()).await;
        }
        if let Some(locked_at) = user.password_locked_at
            && password_lock_expired(&policy.password, locked_at, now)
        {
            // Unlike VIP, a timed unlock is written to the audit trail when it happens.
            let tx = core.write().await?;
            if stored::unlock_password(&tx, &user.id, Some(locked_at)).await? {
                AuditEntry::bank(caller, meta, Operation::AutoUnlockUser, now)
                    .user(&user.id)
                    .append(&tx)
                    .await?;
                tx.commit().await?;
            }
        }
        if let Err(note) = self.passwords.check(&policy, &user, password, now).await? {
            return core.refuse(with_note(entry, note), failed()).await;
        }
        tracing::debug!(tenant.id = %caller.tenant_id, user.id = %user.id, "password accepted");

        let next_step = if user.password_must_change
            || user
                .password_changed_at
                .is_some_and(|changed| password_expired(&policy.password, changed, now))
        {
            LoginStep::PasswordChangeRequired
        } else {
            self.after_password(caller, &user, &policy).await?
        };
        let started = self.open_login(caller, &user, next_step, now).await?;
        core.record_alone(entry.details(json!({ "note": next_step.as_str() })))
            .await?;
        Ok(started)
    }

    /// completeLogin: the login ID and the current OTP. A login that asked for registration
    /// goes on here once the user's token is registered (seed 002 §2.2 (7)).
    pub async fn complete_login(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        login_id: &str,
        otp: &str,
    ) -> Result<LoginCompleted, ServiceError> {
        let core = &self.core;
        let now = core.now();
        let login = self
            .open_login_at(
                caller,
                login_id,
                &[LoginStep::OtpRequired, LoginStep::OtpRegistrationRequired],
                now,
            )
            .await?;
        // The code is checked, counted and spent like verifyOtp. Without a token registered
        // since, it answers otp_not_registered and the login stays open for registration.
        self.otp
            .verify_otp(caller, meta, &login.user_id, otp)
            .await?;
        let tx = core.write().await?;
        if !stored::advance_login(&tx, login_id, login.stage, LoginStep::Complete, true, now)
            .await?
        {
            return Err(ServiceError::rejected(ErrorCode::LoginExpired));
        }
        AuditEntry::bank(caller, meta, Operation::CompleteLogin, now)
            .user(&login.user_id)
            .append(&tx)
            .await?;
        tx.commit().await?;
        let amr = vec!["pwd", "otp"];
        let receipt = self
            .receipts
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
    /// and differ from the current one and the `history` before it; then the login goes on to
    /// its next step.
    pub async fn change_password(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        login_id: &str,
        new_password: &str,
    ) -> Result<LoginStarted, ServiceError> {
        let core = &self.core;
        // The user in the path first: another bank's user is "not found" like any missing one.
        let user = core.bank_user(caller, user_id).await?;
        let policy = core.policy(caller).await?;
        let now = core.now();
        let login = self
            .open_login_of(caller, login_id, LoginStep::PasswordChangeRequired, now)
            .await?;
        if login.user_id != user.id {
            return Err(ServiceError::rejected(ErrorCode::LoginExpired));
        }
        let entry = AuditEntry::bank(caller, meta, Operation::ChangePassword, now).user(&user.id);
        if let Err(err) = self
            .passwords
            .check_rules(&policy, &user, new_password)
            .await
        {
            return core.refuse(entry, err).await;
        }
        let hash = self.passwords.hash(new_password).await?;
        let next_step = self.after_password(caller, &user, &policy).await?;
        let finish = next_step == LoginStep::Complete;
        let tx = core.write().await?;
        if !stored::advance_login(
            &tx,
            login_id,
            LoginStep::PasswordChangeRequired,
            next_step,
            finish,
            now,
        )
        .await?
        {
            return Err(ServiceError::rejected(ErrorCode::LoginExpired));
        }
        stored::set_password(
            &tx,
            &user.id,
            &hash,
            false,
            remembered_passwords(&policy.password),
            now,
        )
        .await?;
        entry
            .details(json!({ "note": next_step.as_str() }))
            .append(&tx)
            .await?;
        tx.commit().await?;
        let receipt = match finish {
            true => Some(
                self.receipts
                    .login_receipt(caller, &user.id, &["pwd"], now)
                    .await?,
            ),
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
        let core = &self.core;
        let policy = core.policy(caller).await?;
        Passwords::require_managed(&policy)?;
        let now = core.now();
        let user = core.bank_user(caller, user_id).await?;
        let entry = AuditEntry::bank(caller, meta, Operation::ChangePassword, now).user(&user.id);
        if let Err(note) = self
            .passwords
            .check(&policy, &user, current_password, now)
            .await?
        {
            return core
                .refuse(
                    with_note(entry, note),
                    ServiceError::rejected(ErrorCode::LoginFailed),
                )
                .await;
        }
        if let Err(err) = self
            .passwords
            .check_rules(&policy, &user, new_password)
            .await
        {
            return core.refuse(entry, err).await;
        }
        let hash = self.passwords.hash(new_password).await?;
        let tx = core.write().await?;
        stored::set_password(
            &tx,
            &user.id,
            &hash,
            false,
            remembered_passwords(&policy.password),
            now,
        )
        .await?;
        entry.append(&tx).await?;
        tx.commit().await?;
        Ok(LoginStarted {
            login_id: None,
            next_step: LoginStep::Complete,
            user_id: user.id,
            expires_at: None,
            receipt: None,
        })
    }

    /// After a good password: OTP next if the bank requires it (and the user has a token).
    async fn after_password(
        &self,
        caller: &BankCaller,
        user: &UserRow,
        policy: &TenantPolicy,
    ) -> Result<LoginStep, ServiceError> {
        if !policy.otp.required_at_login {
            return Ok(LoginStep::Complete);
        }
        let live = bindings::find_live_binding(
            self.core.db(),
            self.core.account_mac().await?,
            caller.tenant_id.as_str(),
            &user.id,
        )
        .await?;
        Ok(if live.is_some() {
            LoginStep::OtpRequired
        } else {
            LoginStep::OtpRegistrationRequired
        })
    }

    async fn open_login(
        &self,
        caller: &BankCaller,
        user: &UserRow,
        next_step: LoginStep,
        now: DateTime<Utc>,
    ) -> Result<LoginStarted, ServiceError> {
        if next_step == LoginStep::Complete {
            return Ok(LoginStarted {
                login_id: None,
                next_step,
                user_id: user.id.clone(),
                expires_at: None,
                receipt: Some(
                    self.receipts
                        .login_receipt(caller, &user.id, &["pwd"], now)
                        .await?,
                ),
            });
        }
        let id = format!("lgn_{}", uuid::Uuid::new_v4().simple());
        let expires_at = now + Duration::minutes(LOGIN_TTL_MINUTES);
        stored::insert_login_session(
            self.core.db(),
            LoginSessionRow {
                id: id.clone(),
                tenant_id: caller.tenant_id.to_string(),
                user_id: user.id.clone(),
                stage: next_step,
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
        stage: LoginStep,
        now: DateTime<Utc>,
    ) -> Result<LoginSessionRow, ServiceError> {
        self.open_login_at(caller, login_id, &[stage], now).await
    }

    async fn open_login_at(
        &self,
        caller: &BankCaller,
        login_id: &str,
        stages: &[LoginStep],
        now: DateTime<Utc>,
    ) -> Result<LoginSessionRow, ServiceError> {
        stored::find_open_login(self.core.db(), caller.tenant_id.as_str(), login_id, now)
            .await?
            .filter(|login| stages.contains(&login.stage))
            .ok_or_else(|| ServiceError::rejected(ErrorCode::LoginExpired))
    }
}

/// The audit entry of a failed password check, with why (never the password).
fn with_note(entry: AuditEntry, note: FailureNote) -> AuditEntry {
    entry.details_opt(note.map(|n| json!({ "note": n })))
}
