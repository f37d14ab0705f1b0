//! The bank-facing use cases: users, registration, verification, resync, stop, device change,
//! revoke, unlock, status. Every one is scoped to the caller's bank: another bank's user or
//! binding is "not found", exactly like a missing one.
//!
//! Each security decision is one short transaction of conditional writes (see
//! `mamori_store::records`), with its audit entry appended in the same transaction.

use chrono::{DateTime, Utc};
use mamori_domain::policy::{CredentialKind, RegistrationMode, TenantPolicy};
use mamori_domain::{BindingState, ErrorCode, FailureOutcome, IssueState, OtpUse};
use mamori_otp::{Code, CredentialId, Digits, OtpParams, Secret, normalize_code};
use mamori_store::audit::NewAuditEvent;
use mamori_store::records::{self, BindingRow, CredentialRow, UserRow};
use mamori_store::{StoreError, audit, issues};
use sea_orm::DatabaseTransaction;

use crate::check::{CodeState, Decision, Kind};
use crate::provision::{REGISTRATION_ATTEMPTS_PER_USER, REGISTRATION_FAILURES_PER_CLIENT};
use crate::{BankCaller, RequestMeta, ServiceError, Services};

/// A contract user as a bank sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Mamori's ID for the user.
    pub id: String,
    /// 契約者番号 / 契約者ID.
    pub contract_number: String,
    /// 利用者ID under the contract, if the bank uses them.
    pub user_code: Option<String>,
    /// The name the bank gave.
    pub display_name: String,
    /// When the bank created the user.
    pub created_at: DateTime<Utc>,
    /// Whether Mamori holds a login password for the user.
    pub password_set: bool,
    /// Whether the login password is locked after too many wrong tries.
    pub password_locked: bool,
    /// Whether the next login must change the password.
    pub password_must_change: bool,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// 契約者番号.
    pub contract_number: String,
    /// 利用者ID, optional.
    pub user_code: Option<String>,
    /// Display name.
    pub display_name: String,
    /// The first (temporary) login password, if Mamori keeps the bank's passwords.
    pub initial_password: Option<String>,
}

/// A user's OTP status at one bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpStatus {
    /// none / issued / in_use / locked / stopped / revoked.
    pub status: OtpUse,
    /// The credential of the latest binding.
    pub credential_id: Option<String>,
    /// Consecutive wrong codes at this bank.
    pub failures: u32,
    /// Wrong codes left before the lock.
    pub attempts_left: Option<u32>,
    /// Time of the last accepted code at this bank.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Whether the credential is suspended on the whole platform.
    pub credential_suspended: bool,
}

impl OtpStatus {
    /// No token at all (未登録).
    fn none() -> Self {
        Self {
            status: OtpUse::None,
            credential_id: None,
            failures: 0,
            attempts_left: None,
            last_success_at: None,
            credential_suspended: false,
        }
    }
}

/// A successful code check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The credential that produced the code.
    pub credential_id: String,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
}

/// Platform-wide consecutive failures after which a credential is suspended everywhere
/// (NIST SP 800-63B §5.2.2 rate limiting: at most 100 consecutive failed attempts).
pub const PLATFORM_GUESS_BUDGET: i32 = 100;

/// The operation names, as in the API's operationIds (also used in the audit trail).
mod op {
    pub const CREATE_USER: &str = "createUser";
    pub const REGISTER: &str = "registerCredential";
    pub const VERIFY: &str = "verifyOtp";
    pub const RESYNC: &str = "resyncCredential";
    pub const STOP: &str = "stopCredential";
    pub const CHANGE_DEVICE: &str = "changeDevice";
    pub const REVOKE: &str = "revokeCredential";
    pub const UNLOCK: &str = "unlockCredential";
}

/// What a code check does to the binding, decided inside one transaction.
enum Checked {
    Accepted,
    Rejected(ServiceError),
}

impl Services {
    // ---------------------------------------------------------------- users

    /// Creates a contract user at the caller's bank.
    pub async fn create_user(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        new: NewUser,
    ) -> Result<User, ServiceError> {
        let contract_number = clean_identifier(&new.contract_number, "contract_number")?;
        let user_code = match new.user_code.as_deref().map(str::trim) {
            None | Some("") => String::new(),
            Some(code) => clean_identifier(code, "user_id")?,
        };
        let display_name = new.display_name.trim().to_owned();
        if display_name.chars().count() > 100 {
            return Err(ServiceError::invalid(
                "display_name: at most 100 characters",
            ));
        }
        let now = self.now();
        let row = UserRow {
            id: format!("usr_{}", uuid::Uuid::new_v4().simple()),
            tenant_id: caller.tenant_id.to_string(),
            contract_number,
            user_code,
            display_name,
            created_at: now,
            updated_at: now,
            password_hash: None,
            password_changed_at: None,
            password_must_change: false,
            password_failures: 0,
            password_locked_at: None,
        };
        let initial = match new.initial_password.as_deref() {
            Some(password) => {
                let policy = self.policy(caller).await?;
                let hash = self
                    .prepare_initial_password(&policy, &row, password)
                    .await?;
                Some((hash, policy))
            }
            None => None,
        };
        let txn = self.begin().await?;
        match records::insert_user(&txn, row.clone()).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                drop(txn);
                return Err(ServiceError::rejected(ErrorCode::UserAlreadyExists));
            }
            Err(e) => return Err(e.into()),
        }
        let mut row = row;
        if let Some((hash, policy)) = initial {
            let must_change = policy.password.force_change_on_first_login;
            mamori_store::passwords::set_password(
                &txn,
                &row.id,
                &hash,
                must_change,
                policy.password.history.get(),
                now,
            )
            .await?;
            row.password_hash = Some(hash);
            row.password_must_change = must_change;
        }
        self.audit(
            &txn,
            caller,
            meta,
            op::CREATE_USER,
            Some(&row.id),
            None,
            Ok(()),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(user_view(row))
    }

    /// A user of the caller's bank.
    pub async fn get_user(&self, caller: &BankCaller, user_id: &str) -> Result<User, ServiceError> {
        self.bank_user(caller, user_id).await.map(user_view)
    }

    /// A user of the caller's bank by contract number (and user ID).
    pub async fn find_user(
        &self,
        caller: &BankCaller,
        contract_number: &str,
        user_code: Option<&str>,
    ) -> Result<User, ServiceError> {
        let row = records::find_user_by_contract(
            self.db().connection(),
            caller.tenant_id.as_str(),
            contract_number.trim(),
            user_code.unwrap_or("").trim(),
        )
        .await?
        .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))?;
        Ok(user_view(row))
    }

    // ---------------------------------------------------------------- status

    /// A user's OTP status at the caller's bank.
    pub async fn otp_status(
        &self,
        caller: &BankCaller,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let user = self.bank_user(caller, user_id).await?;
        let policy = self.policy(caller).await?;
        let conn = self.db().connection();
        let latest = records::find_latest_binding(conn, &user.tenant_id, &user.id).await?;
        let live = match &latest {
            Some(binding) => binding_state(binding)?.is_live(),
            None => false,
        };
        // A live token wins; otherwise a token issued by mail and still usable reads 申請済.
        if !live
            && let Some(issue) = issues::find_open_issue(conn, &user.tenant_id, &user.id).await?
            && (issue.state == IssueState::Activated.as_str() || issue.expires_at > self.now())
        {
            return Ok(OtpStatus {
                status: OtpUse::Issued,
                ..OtpStatus::none()
            });
        }
        let Some(binding) = latest else {
            return Ok(OtpStatus::none());
        };
        let state = binding_state(&binding)?;
        let credential = records::find_credential(conn, &binding.credential_id).await?;
        let failures = u32::try_from(binding.failures).unwrap_or(0);
        let limit = policy.otp.lock_threshold.get();
        Ok(OtpStatus {
            status: OtpUse::of(Some(state)),
            credential_id: Some(binding.credential_id),
            failures,
            attempts_left: state.is_live().then(|| limit.saturating_sub(failures)),
            last_success_at: binding.last_success_at,
            credential_suspended: credential.is_some_and(|c| c.suspended_at.is_some()),
        })
    }

    // ---------------------------------------------------------------- registration

    /// 利用開始登録: binds a credential to a user with one code or two consecutive codes, as the
    /// bank's policy says. The codes are spent.
    pub async fn register_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        credential_id: &str,
        codes: &[String],
    ) -> Result<OtpStatus, ServiceError> {
        let user = self.bank_user(caller, user_id).await?;
        let policy = self.policy(caller).await?;
        self.register_token(
            caller,
            meta,
            &user,
            &policy,
            NewToken {
                operation: op::REGISTER,
                credential_id,
                codes,
                mode: policy.registration.mode,
                issue_id: None,
            },
        )
        .await
    }

    /// The one registration path (registerCredential, and startOtpUse of a token issued by
    /// mail): judge the token and its code(s), then in one transaction insert the binding, spend
    /// the code's step, move the issue (if any) to `used`, and audit.
    pub(crate) async fn register_token(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user: &UserRow,
        policy: &TenantPolicy,
        token: NewToken<'_>,
    ) -> Result<OtpStatus, ServiceError> {
        let NewToken {
            operation,
            credential_id,
            codes,
            mode,
            issue_id,
        } = token;
        let user_id = user.id.as_str();
        let now = self.now();
        let (credential, decision) = match self
            .judge_new_token(user, meta, policy, credential_id, codes, mode, now)
            .await?
        {
            Ok(judged) => judged,
            Err((cred, err)) => {
                return self
                    .refuse(caller, meta, operation, user_id, now, cred, err)
                    .await;
            }
        };
        let cred_id = credential.id.as_str();

        let txn = self.begin().await?;
        let binding = BindingRow {
            id: format!("bnd_{}", uuid::Uuid::new_v4().simple()),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            credential_id: cred_id.to_owned(),
            state: BindingState::Active.as_str().to_owned(),
            failures: 0,
            last_success_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        let outcome = match decision {
            Decision::Spend { at, .. } => {
                // The insert comes first so every transaction takes binding, then credential,
                // then audit locks in the same order.
                match records::insert_binding(&txn, binding).await {
                    Err(StoreError::Conflict(_)) => {
                        drop(txn);
                        return self
                            .refuse(
                                caller,
                                meta,
                                operation,
                                user_id,
                                now,
                                Some(cred_id.to_owned()),
                                ServiceError::rejected(ErrorCode::CredentialAlreadyRegistered),
                            )
                            .await;
                    }
                    Err(e) => return Err(e.into()),
                    Ok(()) => {}
                }
                if !self.spend(&txn, &credential, at, None, now).await? {
                    drop(txn);
                    return self
                        .refuse(
                            caller,
                            meta,
                            operation,
                            user_id,
                            now,
                            Some(cred_id.to_owned()),
                            ServiceError::rejected(ErrorCode::OtpAlreadyUsed),
                        )
                        .await;
                }
                match issue_id {
                    // Released or started meanwhile by a concurrent request.
                    Some(issue) if !issues::mark_used(&txn, issue, now).await? => {
                        drop(txn);
                        return self
                            .refuse(
                                caller,
                                meta,
                                operation,
                                user_id,
                                now,
                                Some(cred_id.to_owned()),
                                ServiceError::rejected(ErrorCode::OtpNotRegistered),
                            )
                            .await;
                    }
                    _ => Ok(()),
                }
            }
            Decision::AlreadyUsed => Err(ServiceError::rejected(ErrorCode::OtpAlreadyUsed)),
            // Paid for by this user's registration attempts, never by the credential's
            // platform budget: the user typing it may not be its owner.
            Decision::Wrong => Err(ServiceError::rejected(ErrorCode::OtpInvalid)),
        };
        self.audit(
            &txn,
            caller,
            meta,
            operation,
            Some(user_id),
            Some(cred_id),
            outcome.as_ref().map(|_| ()),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        outcome?;
        self.otp_status(caller, user_id).await
    }

    /// A token presented for registration (registerCredential, and the new token of
    /// changeDevice): the credential must exist, be usable at this bank, and come with as many
    /// codes as the bank's registration mode asks; then, once the user's registration attempt
    /// is reserved, what the code(s) mean. A refusal carries the credential ID when it is
    /// known, for the audit entry.
    #[expect(
        clippy::too_many_arguments,
        reason = "a registration attempt has that many facts"
    )]
    async fn judge_new_token(
        &self,
        user: &UserRow,
        meta: &RequestMeta,
        policy: &TenantPolicy,
        credential_id: &str,
        codes: &[String],
        mode: RegistrationMode,
        now: DateTime<Utc>,
    ) -> Result<Result<(CredentialRow, Decision), (Option<String>, ServiceError)>, ServiceError>
    {
        let Ok(id) = CredentialId::parse(credential_id) else {
            return Ok(Err((
                None,
                ServiceError::rejected(ErrorCode::CredentialIdMalformed),
            )));
        };
        let refused = |err| Ok(Err((Some(id.to_string()), err)));
        let Some(credential) =
            records::find_credential(self.db().connection(), id.as_str()).await?
        else {
            return refused(ServiceError::rejected(ErrorCode::CredentialUnknown));
        };
        if let Err(err) = check_usable(&credential, policy) {
            return refused(err);
        }
        let two_codes = mode == RegistrationMode::TwoConsecutiveCodes;
        if codes.len() != if two_codes { 2 } else { 1 } {
            return refused(ServiceError::invalid(if two_codes {
                "this bank registers a token with two consecutive codes: send both"
            } else {
                "this bank registers a token with one code: send only one"
            }));
        }
        let codes = match parse_codes(codes, &credential) {
            Ok(codes) => codes,
            Err(err) => return refused(err),
        };
        // Reserved before the code is checked, so concurrent attempts cannot overrun the limit.
        let user_key = format!("register-user:{}:{}", user.tenant_id, user.id);
        if !self
            .take_rate_slot(&user_key, REGISTRATION_ATTEMPTS_PER_USER, now)
            .await?
        {
            return refused(ServiceError::rejected(ErrorCode::RateLimited));
        }
        let client = meta.client_addr.as_deref().unwrap_or("unknown");
        let client_key = format!("register-client:{client}");
        if !self
            .take_rate_slot(&client_key, REGISTRATION_FAILURES_PER_CLIENT, now)
            .await?
        {
            return refused(ServiceError::rejected(ErrorCode::RateLimited));
        }
        let secret = self.open_secret(&credential)?;
        let state = code_state(&credential, &secret)?;
        let (unix, window, look_ahead) = (
            unix(now),
            policy.otp.window.get(),
            policy.otp.hotp_look_ahead.get(),
        );
        let decision = match codes.as_slice() {
            [one] => state.check_one(one, unix, window, look_ahead),
            [first, second] => state.check_pair(first, second, unix, window, look_ahead),
            _ => Decision::Wrong,
        };
        if decision != Decision::Wrong {
            self.give_back_rate_slot(&client_key, REGISTRATION_FAILURES_PER_CLIENT, now)
                .await?;
        }
        Ok(Ok((credential, decision)))
    }

    // ---------------------------------------------------------------- verification

    /// The login check (and the basis of transaction checks): one code against the user's
    /// token at this bank.
    pub async fn verify_otp(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation: op::VERIFY,
                input: CodeInput::One(code),
                then: None,
                facts: None,
            },
        )
        .await
    }

    /// One code checked like a login under another operation's name (transaction checks),
    /// with extra facts for the audit entry.
    pub(crate) async fn check_code_for(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
        operation: &str,
        transaction_hash: Option<&str>,
    ) -> Result<Accepted, ServiceError> {
        let facts = transaction_hash.map(|hash| serde_json::json!({ "transaction_hash": hash }));
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation,
                input: CodeInput::One(code),
                then: None,
                facts,
            },
        )
        .await
    }

    /// 同期ズレ補正: two consecutive codes re-learn the token's drift, for every bank.
    pub async fn resync_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        first: &str,
        second: &str,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation: op::RESYNC,
                input: CodeInput::Resync(first, second),
                then: None,
                facts: None,
            },
        )
        .await
    }

    /// 利用停止: the customer ends OTP use at this bank with a current code.
    pub async fn stop_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
    ) -> Result<Accepted, ServiceError> {
        self.check_live_code(
            caller,
            meta,
            user_id,
            LiveCheck {
                operation: op::STOP,
                input: CodeInput::One(code),
                then: Some(BindingState::Stopped),
                facts: None,
            },
        )
        .await
    }

    /// 機種変更: the old token's code, then the new credential and its code(s), in one step. If
    /// any part fails nothing changes and the old token keeps working.
    pub async fn change_device(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        old_code: &str,
        new_credential_id: &str,
        new_codes: &[String],
    ) -> Result<OtpStatus, ServiceError> {
        let user = self.bank_user(caller, user_id).await?;
        let policy = self.policy(caller).await?;
        let now = self.now();
        let unix = unix(now);
        let window = policy.otp.window.get();
        let look_ahead = policy.otp.hotp_look_ahead.get();

        // The new token first: its mistakes must not touch the old binding at all.
        let (new_cred, new_decision) = match self
            .judge_new_token(
                &user,
                meta,
                &policy,
                new_credential_id,
                new_codes,
                policy.registration.mode,
                now,
            )
            .await?
        {
            Ok(judged) => judged,
            Err((cred, err)) => {
                return self
                    .refuse(caller, meta, op::CHANGE_DEVICE, user_id, now, cred, err)
                    .await;
            }
        };
        let new_id = new_cred.id.clone();
        let Some(old_binding) =
            records::find_live_binding(self.db().connection(), &user.tenant_id, &user.id).await?
        else {
            return self
                .refuse(
                    caller,
                    meta,
                    op::CHANGE_DEVICE,
                    user_id,
                    now,
                    None,
                    ServiceError::rejected(ErrorCode::OtpNotRegistered),
                )
                .await;
        };
        if old_binding.credential_id == new_id.as_str() {
            return self
                .refuse(
                    caller,
                    meta,
                    op::CHANGE_DEVICE,
                    user_id,
                    now,
                    Some(new_id.to_string()),
                    ServiceError::invalid("the new credential is the one already registered"),
                )
                .await;
        }
        let Some(old_cred) =
            records::find_credential(self.db().connection(), &old_binding.credential_id).await?
        else {
            return Err(ServiceError::Internal("binding without credential".into()));
        };
        let old_parsed = match parse_codes(&[old_code.to_owned()], &old_cred) {
            Ok(codes) => codes,
            Err(err) => {
                return self
                    .refuse(
                        caller,
                        meta,
                        op::CHANGE_DEVICE,
                        user_id,
                        now,
                        Some(old_cred.id.clone()),
                        err,
                    )
                    .await;
            }
        };
        let old_secret = self.open_secret(&old_cred)?;
        let old_decision =
            code_state(&old_cred, &old_secret)?.check_one(&old_parsed[0], unix, window, look_ahead);

        let limit = lock_limit(&policy);
        let txn = self.begin().await?;
        // The old token's code is checked like a login: it takes an attempt first.
        if let Checked::Rejected(err) = self
            .settle(&txn, &old_binding, &old_cred, old_decision, limit, now)
            .await?
        {
            self.audit(
                &txn,
                caller,
                meta,
                op::CHANGE_DEVICE,
                Some(&user.id),
                Some(&old_cred.id),
                Err(&err),
                now,
            )
            .await?;
            txn.commit().await.map_err(StoreError::from)?;
            return Err(err);
        }
        // Old code good. Now the new token: any failure rolls back everything above.
        let new_at = match new_decision {
            Decision::Spend { at, .. } => at,
            Decision::AlreadyUsed | Decision::Wrong => {
                drop(txn);
                let err = ServiceError::rejected(if new_decision == Decision::AlreadyUsed {
                    ErrorCode::OtpAlreadyUsed
                } else {
                    ErrorCode::OtpInvalid
                });
                // A wrong new code is paid for by this user's registration attempts only
                // (see registerCredential).
                return self
                    .refuse(
                        caller,
                        meta,
                        op::CHANGE_DEVICE,
                        user_id,
                        now,
                        Some(new_cred.id.clone()),
                        err,
                    )
                    .await;
            }
        };
        if !records::transition_binding(
            &txn,
            &old_binding.id,
            &["active"],
            BindingState::Replaced.as_str(),
            false,
            now,
        )
        .await?
        {
            drop(txn);
            return self
                .refuse(
                    caller,
                    meta,
                    op::CHANGE_DEVICE,
                    user_id,
                    now,
                    Some(old_cred.id.clone()),
                    ServiceError::locked(),
                )
                .await;
        }
        let new_binding = BindingRow {
            id: format!("bnd_{}", uuid::Uuid::new_v4().simple()),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            credential_id: new_cred.id.clone(),
            state: BindingState::Active.as_str().to_owned(),
            failures: 0,
            last_success_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        match records::insert_binding(&txn, new_binding).await {
            Err(StoreError::Conflict(_)) => {
                drop(txn);
                return self
                    .refuse(
                        caller,
                        meta,
                        op::CHANGE_DEVICE,
                        user_id,
                        now,
                        Some(new_cred.id.clone()),
                        ServiceError::rejected(ErrorCode::CredentialAlreadyRegistered),
                    )
                    .await;
            }
            other => other?,
        }
        if !self.spend(&txn, &new_cred, new_at, None, now).await? {
            drop(txn);
            return self
                .refuse(
                    caller,
                    meta,
                    op::CHANGE_DEVICE,
                    user_id,
                    now,
                    Some(new_cred.id.clone()),
                    ServiceError::rejected(ErrorCode::OtpAlreadyUsed),
                )
                .await;
        }
        let details = serde_json::json!({ "old_credential_id": old_cred.id });
        self.audit_entry(
            &txn,
            caller,
            meta,
            op::CHANGE_DEVICE,
            Some(&user.id),
            Some(&new_cred.id),
            Ok(()),
            Some(details),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.otp_status(caller, user_id).await
    }

    // ---------------------------------------------------------------- support desk

    /// 失効: the bank invalidates the user's token (e.g. a lost phone). No code needed.
    pub async fn revoke_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        self.support_desk(
            caller,
            meta,
            user_id,
            op::REVOKE,
            &["active", "locked"],
            BindingState::Revoked,
        )
        .await
    }

    /// ロック解除: the bank unlocks a token locked after too many wrong codes.
    pub async fn unlock_credential(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        self.support_desk(
            caller,
            meta,
            user_id,
            op::UNLOCK,
            &["locked", "active"],
            BindingState::Active,
        )
        .await
    }

    async fn support_desk(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        operation: &str,
        from: &[&str],
        to: BindingState,
    ) -> Result<OtpStatus, ServiceError> {
        let user = self.bank_user(caller, user_id).await?;
        let now = self.now();
        let Some(binding) =
            records::find_live_binding(self.db().connection(), &user.tenant_id, &user.id).await?
        else {
            let err = ServiceError::rejected(ErrorCode::OtpNotRegistered);
            self.audit_alone(caller, meta, operation, Some(&user.id), None, &err, now)
                .await?;
            return Err(err);
        };
        let txn = self.begin().await?;
        let moved =
            records::transition_binding(&txn, &binding.id, from, to.as_str(), true, now).await?;
        if !moved {
            drop(txn);
            let err = ServiceError::rejected(ErrorCode::OtpNotRegistered);
            self.audit_alone(
                caller,
                meta,
                operation,
                Some(&user.id),
                Some(&binding.credential_id),
                &err,
                now,
            )
            .await?;
            return Err(err);
        }
        self.audit(
            &txn,
            caller,
            meta,
            operation,
            Some(&user.id),
            Some(&binding.credential_id),
            Ok(()),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.otp_status(caller, user_id).await
    }

    // ---------------------------------------------------------------- the core check

    /// Checks a code (or a resync pair) against the user's live binding at this bank and
    /// records the result, all in one transaction:
    ///
    /// 1. reserve an attempt (`failures + 1` while active and under the limit) — a locked
    ///    binding, or one whose attempts are used up by concurrent requests, checks nothing;
    /// 2. spend the matched step platform-wide (conditional on it being newer than the last);
    /// 3. on success reset the count; on a wrong code keep it and lock at the limit; on an
    ///    already-used code give the attempt back;
    /// 4. append the audit entry; commit.
    async fn check_live_code(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        check: LiveCheck<'_>,
    ) -> Result<Accepted, ServiceError> {
        let LiveCheck {
            operation,
            input,
            then,
            facts,
        } = check;
        let user = self.bank_user(caller, user_id).await?;
        let policy = self.policy(caller).await?;
        let now = self.now();
        let conn = self.db().connection();
        let Some(binding) = records::find_live_binding(conn, &user.tenant_id, &user.id).await?
        else {
            let err = ServiceError::rejected(ErrorCode::OtpNotRegistered);
            self.audit_alone(caller, meta, operation, Some(&user.id), None, &err, now)
                .await?;
            return Err(err);
        };
        let Some(credential) = records::find_credential(conn, &binding.credential_id).await? else {
            return Err(ServiceError::Internal("binding without credential".into()));
        };
        let cred_id = credential.id.clone();
        let raw: Vec<String> = match input {
            CodeInput::One(code) => vec![code.to_owned()],
            CodeInput::Resync(first, second) => vec![first.to_owned(), second.to_owned()],
        };
        let codes = match parse_codes(&raw, &credential) {
            Ok(codes) => codes,
            Err(err) => {
                return self
                    .refuse(
                        caller,
                        meta,
                        operation,
                        user_id,
                        now,
                        Some(cred_id.clone()),
                        err,
                    )
                    .await;
            }
        };
        if binding.state == BindingState::Locked.as_str() {
            return self
                .refuse(
                    caller,
                    meta,
                    operation,
                    user_id,
                    now,
                    Some(cred_id.clone()),
                    ServiceError::locked(),
                )
                .await;
        }
        if credential.suspended_at.is_some() {
            return self
                .refuse(
                    caller,
                    meta,
                    operation,
                    user_id,
                    now,
                    Some(cred_id.clone()),
                    ServiceError::rejected(ErrorCode::CredentialSuspended),
                )
                .await;
        }
        let secret = self.open_secret(&credential)?;
        let state = code_state(&credential, &secret)?;
        let unix = unix(now);
        let decision = match (input, codes.as_slice()) {
            (CodeInput::One(_), [code]) => state.check_one(
                code,
                unix,
                policy.otp.window.get(),
                policy.otp.hotp_look_ahead.get(),
            ),
            (CodeInput::Resync(..), [first, second]) => {
                state.check_resync(first, second, unix, resync_window(&policy, &credential)?)
            }
            _ => Decision::Wrong,
        };

        let limit = lock_limit(&policy);
        let txn = self.begin().await?;
        let checked = match self
            .settle(&txn, &binding, &credential, decision, limit, now)
            .await?
        {
            Checked::Accepted => {
                if let Some(to) = then {
                    records::transition_binding(
                        &txn,
                        &binding.id,
                        &["active"],
                        to.as_str(),
                        false,
                        now,
                    )
                    .await?;
                }
                Checked::Accepted
            }
            // A failed resync says so, so the customer knows to enter two codes.
            Checked::Rejected(ServiceError::Rejected {
                code: ErrorCode::OtpInvalid,
                attempts_left,
            }) if matches!(input, CodeInput::Resync(..)) => {
                Checked::Rejected(ServiceError::Rejected {
                    code: ErrorCode::ResyncFailed,
                    attempts_left,
                })
            }
            rejected => rejected,
        };
        let outcome = match &checked {
            Checked::Accepted => Ok(()),
            Checked::Rejected(err) => Err(err),
        };
        let learned = match (decision, &checked) {
            (
                Decision::Spend {
                    drift: Some(drift), ..
                },
                Checked::Accepted,
            ) => Some(serde_json::json!({ "drift_steps": drift })),
            _ => None,
        };
        let details = match (learned, facts) {
            (Some(serde_json::Value::Object(mut a)), Some(serde_json::Value::Object(b))) => {
                a.extend(b);
                Some(serde_json::Value::Object(a))
            }
            (a, b) => a.or(b),
        };
        self.audit_entry(
            &txn,
            caller,
            meta,
            operation,
            Some(&user.id),
            Some(&cred_id),
            outcome,
            details,
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        match checked {
            Checked::Accepted => Ok(Accepted {
                credential_id: cred_id,
                accepted_at: now,
            }),
            Checked::Rejected(err) => Err(err),
        }
    }

    /// Within `txn`: reserves an attempt on the binding, then applies the decision — spend the
    /// step and reset the count, give the attempt back for an already-used code, or count the
    /// failure (locking at the limit). A locked binding, or one whose attempts concurrent
    /// requests have used up, gets no check at all.
    async fn settle(
        &self,
        txn: &DatabaseTransaction,
        binding: &BindingRow,
        credential: &CredentialRow,
        decision: Decision,
        limit: i32,
        now: DateTime<Utc>,
    ) -> Result<Checked, ServiceError> {
        if !records::reserve_attempt(txn, &binding.id, limit, now).await? {
            tracing::debug!(binding.id = %binding.id, "no attempt left: code not checked");
            return Ok(Checked::Rejected(ServiceError::locked()));
        }
        // The decision names a step and drift, never the code itself.
        tracing::debug!(
            tenant.id = %binding.tenant_id,
            binding.id = %binding.id,
            credential.id = %credential.id,
            ?decision,
            "settling a code check"
        );
        let already_used = || Checked::Rejected(ServiceError::rejected(ErrorCode::OtpAlreadyUsed));
        Ok(match decision {
            Decision::Spend { at, drift } => {
                if self.spend(txn, credential, at, drift, now).await? {
                    records::record_success(txn, &binding.id, now).await?;
                    Checked::Accepted
                } else {
                    // Spent meanwhile by a concurrent request, or suspended meanwhile.
                    records::release_attempt(txn, &binding.id).await?;
                    already_used()
                }
            }
            Decision::AlreadyUsed => {
                records::release_attempt(txn, &binding.id).await?;
                already_used()
            }
            Decision::Wrong => Checked::Rejected(
                self.count_failure(txn, binding, &credential.id, limit, now)
                    .await?,
            ),
        })
    }

    /// Counts a wrong code on this bank's binding (already reserved) and platform-wide, and
    /// locks the binding at the bank's limit. Returns the error to answer.
    async fn count_failure(
        &self,
        txn: &DatabaseTransaction,
        binding: &BindingRow,
        credential_id: &str,
        limit: i32,
        now: DateTime<Utc>,
    ) -> Result<ServiceError, ServiceError> {
        let failures = records::binding_failures(txn, &binding.id).await?;
        let outcome = FailureOutcome::of(
            u32::try_from(failures).unwrap_or(0),
            u32::try_from(limit).unwrap_or(0),
        );
        if outcome.locks {
            records::transition_binding(
                txn,
                &binding.id,
                &["active"],
                BindingState::Locked.as_str(),
                false,
                now,
            )
            .await?;
        }
        let suspended =
            records::count_credential_failure(txn, credential_id, PLATFORM_GUESS_BUDGET, now)
                .await?;
        Ok(if suspended {
            ServiceError::rejected(ErrorCode::CredentialSuspended)
        } else if outcome.locks {
            ServiceError::Rejected {
                code: ErrorCode::OtpLocked,
                attempts_left: Some(0),
            }
        } else {
            ServiceError::Rejected {
                code: ErrorCode::OtpInvalid,
                attempts_left: Some(outcome.attempts_left),
            }
        })
    }

    pub(crate) async fn spend(
        &self,
        txn: &DatabaseTransaction,
        credential: &CredentialRow,
        at: i64,
        drift: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        Ok(match kind_of(credential)? {
            Kind::Totp => records::spend_totp_step(txn, &credential.id, at, drift, now).await?,
            Kind::Hotp => records::spend_hotp_counter(txn, &credential.id, at, now).await?,
        })
    }

    // ---------------------------------------------------------------- helpers

    pub(crate) async fn bank_user(
        &self,
        caller: &BankCaller,
        user_id: &str,
    ) -> Result<UserRow, ServiceError> {
        records::find_user(self.db().connection(), caller.tenant_id.as_str(), user_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))
    }

    pub(crate) async fn policy(&self, caller: &BankCaller) -> Result<TenantPolicy, ServiceError> {
        self.db()
            .find_tenant_config(&caller.tenant_id)
            .await?
            .map(|config| config.policy)
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))
    }

    pub(crate) fn open_secret(&self, credential: &CredentialRow) -> Result<Secret, ServiceError> {
        let sealed = mamori_crypto::SealedSecret {
            key_id: credential.secret_key_id.clone(),
            blob: credential.secret_ciphertext.clone(),
        };
        let bytes = self
            .keyring()
            .open(&sealed, credential.id.as_bytes())
            .map_err(|e| ServiceError::Internal(format!("credential {}: {e}", credential.id)))?;
        Secret::from_bytes(&bytes)
            .map_err(|e| ServiceError::Internal(format!("credential {}: {e}", credential.id)))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one audit entry has that many facts"
    )]
    pub(crate) async fn audit(
        &self,
        txn: &DatabaseTransaction,
        caller: &BankCaller,
        meta: &RequestMeta,
        operation: &str,
        user_id: Option<&str>,
        credential_id: Option<&str>,
        outcome: Result<(), &ServiceError>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.audit_entry(
            txn,
            caller,
            meta,
            operation,
            user_id,
            credential_id,
            outcome,
            None,
            now,
        )
        .await
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one audit entry has that many facts"
    )]
    pub(crate) async fn audit_entry(
        &self,
        txn: &DatabaseTransaction,
        caller: &BankCaller,
        meta: &RequestMeta,
        operation: &str,
        user_id: Option<&str>,
        credential_id: Option<&str>,
        outcome: Result<(), &ServiceError>,
        details: Option<serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let (outcome, error_code) = match outcome {
            Ok(()) => ("success", None),
            Err(err) => ("failure", Some(err.code().as_str().to_owned())),
        };
        let event = NewAuditEvent {
            tenant_id: caller.tenant_id.to_string(),
            actor: format!("bank:{}", caller.api_key_id),
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
            error_code,
            user_id: user_id.map(str::to_owned),
            credential_id: credential_id.map(str::to_owned),
            request_id: meta.request_id.clone(),
            client_addr: meta.client_addr.clone(),
            details,
        };
        audit::append(txn, event, now).await?;
        Ok(())
    }

    /// Audits a refusal that changed nothing, in its own transaction, and returns it.
    #[expect(
        clippy::too_many_arguments,
        reason = "one audit entry has that many facts"
    )]
    pub(crate) async fn refuse<T>(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        operation: &str,
        user_id: &str,
        now: DateTime<Utc>,
        credential_id: Option<String>,
        err: ServiceError,
    ) -> Result<T, ServiceError> {
        self.audit_alone(
            caller,
            meta,
            operation,
            Some(user_id),
            credential_id.as_deref(),
            &err,
            now,
        )
        .await?;
        Err(err)
    }

    /// Audits a failure that changed nothing, in its own transaction.
    #[expect(
        clippy::too_many_arguments,
        reason = "one audit entry has that many facts"
    )]
    pub(crate) async fn audit_alone(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        operation: &str,
        user_id: Option<&str>,
        credential_id: Option<&str>,
        err: &ServiceError,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let txn = self.begin().await?;
        self.audit(
            &txn,
            caller,
            meta,
            operation,
            user_id,
            credential_id,
            Err(err),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
    }
}

/// A token presented for registration, and what the registration is for.
pub(crate) struct NewToken<'a> {
    /// The operation, for the audit entry.
    pub operation: &'a str,
    /// The credential to bind.
    pub credential_id: &'a str,
    /// Its code(s).
    pub codes: &'a [String],
    /// How many codes this registration takes.
    pub mode: RegistrationMode,
    /// The issue (by mail) whose credential this is: moved to `used` with the registration.
    pub issue_id: Option<&'a str>,
}

/// What one live code check is: its operation name, its code(s), the state a success moves the
/// binding to (stop), and extra facts for the audit entry.
struct LiveCheck<'a> {
    operation: &'a str,
    input: CodeInput<'a>,
    then: Option<BindingState>,
    facts: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy)]
enum CodeInput<'a> {
    One(&'a str),
    Resync(&'a str, &'a str),
}

fn user_view(row: UserRow) -> User {
    User {
        id: row.id,
        contract_number: row.contract_number,
        user_code: (!row.user_code.is_empty()).then_some(row.user_code),
        display_name: row.display_name,
        created_at: row.created_at,
        password_set: row.password_hash.is_some(),
        password_locked: row.password_locked_at.is_some(),
        password_must_change: row.password_must_change,
    }
}

/// Contract numbers and user IDs: printable ASCII after folding full-width characters and
/// trimming, 1–32 characters, so a customer's typing habit never creates a second identity.
fn clean_identifier(raw: &str, field: &str) -> Result<String, ServiceError> {
    let folded: String = raw.trim().chars().map(mamori_otp::fold_width).collect();
    let ok = (1..=32).contains(&folded.len())
        && folded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(folded)
    } else {
        Err(ServiceError::invalid(format!(
            "{field}: 1 to 32 letters, digits, '-', '_' or '.'"
        )))
    }
}

fn binding_state(row: &BindingRow) -> Result<BindingState, ServiceError> {
    BindingState::parse(&row.state)
        .ok_or_else(|| ServiceError::Internal(format!("binding {}: state {:?}", row.id, row.state)))
}

fn kind_of(credential: &CredentialRow) -> Result<Kind, ServiceError> {
    match credential.kind.as_str() {
        "totp" => Ok(Kind::Totp),
        "hotp" => Ok(Kind::Hotp),
        other => Err(ServiceError::Internal(format!(
            "credential {}: kind {other:?}",
            credential.id
        ))),
    }
}

fn params_of(credential: &CredentialRow) -> Result<OtpParams, ServiceError> {
    let bad = |what: &str| ServiceError::Internal(format!("credential {}: {what}", credential.id));
    Ok(OtpParams {
        algorithm: credential.algorithm.parse().map_err(|_| bad("algorithm"))?,
        digits: Digits::new(u8::try_from(credential.digits).map_err(|_| bad("digits"))?)
            .map_err(|_| bad("digits"))?,
        period: mamori_otp::Period::new(
            u32::try_from(credential.period).map_err(|_| bad("period"))?,
        )
        .map_err(|_| bad("period"))?,
    })
}

pub(crate) fn code_state<'a>(
    credential: &CredentialRow,
    secret: &'a Secret,
) -> Result<CodeState<'a>, ServiceError> {
    Ok(CodeState {
        secret,
        params: params_of(credential)?,
        kind: kind_of(credential)?,
        drift_steps: credential.drift_steps,
        last_used_step: credential.last_used_step,
        hotp_next_counter: credential.hotp_next_counter,
    })
}

/// Normalises each presented code to the credential's digit count; a malformed code is
/// refused before anything is counted.
pub(crate) fn parse_codes(
    raw: &[String],
    credential: &CredentialRow,
) -> Result<Vec<Code>, ServiceError> {
    let digits = params_of(credential)?.digits;
    raw.iter()
        .map(|code| {
            normalize_code(code, digits)
                .map_err(|_| ServiceError::rejected(ErrorCode::OtpMalformed))
        })
        .collect()
}

/// A credential can be registered at this bank: not suspended, of a kind the bank allows.
fn check_usable(credential: &CredentialRow, policy: &TenantPolicy) -> Result<(), ServiceError> {
    if credential.suspended_at.is_some() {
        return Err(ServiceError::rejected(ErrorCode::CredentialSuspended));
    }
    let kind = match kind_of(credential)? {
        Kind::Totp => CredentialKind::Totp,
        Kind::Hotp => CredentialKind::Hotp,
    };
    if !policy.otp.allows(kind) {
        return Err(ServiceError::rejected(ErrorCode::CredentialKindNotAllowed));
    }
    Ok(())
}

/// How far 同期ズレ補正 searches. TOTP: the bank's `resync_window` steps either side of the
/// true time. HOTP: ten times the look-ahead, because the counter only runs ahead (a customer
/// pressing the button repeatedly) and a resync that searched no further than a single code
/// would recover nothing (RFC 4226 §7.4).
fn resync_window(policy: &TenantPolicy, credential: &CredentialRow) -> Result<u32, ServiceError> {
    Ok(match kind_of(credential)? {
        Kind::Totp => policy.otp.resync_window.get(),
        Kind::Hotp => policy.otp.hotp_look_ahead.get().saturating_mul(10),
    })
}

fn lock_limit(policy: &TenantPolicy) -> i32 {
    i32::try_from(policy.otp.lock_threshold.get()).unwrap_or(i32::MAX)
}

pub(crate) fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}
