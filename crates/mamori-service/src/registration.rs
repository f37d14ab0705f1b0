//! 利用開始登録 and 機種変更: binding a customer's credential to a bank user, proven with one
//! code or two consecutive codes (bank policy), and replacing the bound token in one step.
//!
//! A registration attempt is reserved per bank user before its code is checked, and a wrong
//! code here never counts against the credential's platform budget: the person typing a
//! credential ID may not be its owner (see [`crate::core::Limits`]).

use chrono::{DateTime, Utc};
use mamori_domain::policy::{RegistrationMode, TenantPolicy};
use mamori_domain::{BindingState, ErrorCode, Operation};
use mamori_store::bindings::{self, BindingRow};
use mamori_store::credentials::{self, CredentialRow};
use mamori_store::users::UserRow;
use mamori_store::{StoreError, issues};
use serde_json::json;

use crate::check::Decision;
use crate::core::audit::AuditEntry;
use crate::core::codes;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::status::{self, OtpStatus};

/// Registration of tokens at a bank.
#[derive(Debug, Clone)]
pub struct Registration {
    core: Core,
}

/// A token presented for registration, and what the registration is for.
pub(crate) struct NewToken<'a> {
    /// The operation, for the audit entry.
    pub operation: Operation,
    /// The credential to bind.
    pub credential_id: &'a str,
    /// Its code(s).
    pub codes: &'a [String],
    /// How many codes this registration takes.
    pub mode: RegistrationMode,
    /// The issue (by mail) whose credential this is: moved to `used` with the registration.
    pub issue_id: Option<&'a str>,
}

/// A judged new token: the credential and what its code(s) mean, or the refusal (with the
/// credential ID when it is known, for the audit entry).
type Judged = Result<(CredentialRow, Decision), (Option<String>, ServiceError)>;

impl Registration {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

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
        let user = self.core.bank_user(caller, user_id).await?;
        let policy = self.core.policy(caller).await?;
        self.register_token(
            caller,
            meta,
            &user,
            &policy,
            NewToken {
                operation: Operation::RegisterCredential,
                credential_id,
                codes,
                mode: policy.registration.mode,
                issue_id: None,
            },
        )
        .await
    }

    /// The one registration path (registerCredential, and startOtpUse of a token issued by
    /// mail): judge the token and its code(s), then in one unit of work insert the binding,
    /// spend the code's step, move the issue (if any) to `used`, and audit.
    pub(crate) async fn register_token(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user: &UserRow,
        policy: &TenantPolicy,
        token: NewToken<'_>,
    ) -> Result<OtpStatus, ServiceError> {
        let core = &self.core;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, token.operation, now).user(&user.id);
        let (credential, decision) = match self
            .judge_new_token(
                user,
                meta,
                policy,
                token.credential_id,
                token.codes,
                token.mode,
                now,
            )
            .await?
        {
            Ok(judged) => judged,
            Err((credential_id, err)) => {
                return core
                    .refuse(entry.credential_opt(credential_id.as_deref()), err)
                    .await;
            }
        };
        let entry = entry.credential(&credential.id);
        let at = match decision {
            Decision::Spend { at, .. } => at,
            Decision::AlreadyUsed => {
                return core
                    .refuse(entry, ServiceError::rejected(ErrorCode::OtpAlreadyUsed))
                    .await;
            }
            // Paid for by this user's registration attempts, never by the credential's
            // platform budget: the user typing it may not be its owner.
            Decision::Wrong => {
                return core
                    .refuse(entry, ServiceError::rejected(ErrorCode::OtpInvalid))
                    .await;
            }
        };

        let tx = core.write().await?;
        // The insert comes first so every unit takes binding, then credential, then audit
        // locks in the same order.
        match bindings::insert_binding(
            &tx,
            core.account_mac().await?,
            new_binding(user, &credential.id, now),
        )
        .await
        {
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                return core
                    .refuse(
                        entry,
                        ServiceError::rejected(ErrorCode::CredentialAlreadyRegistered),
                    )
                    .await;
            }
            other => other?,
        }
        if !codes::spend(&tx, &credential, at, None, now).await? {
            drop(tx);
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpAlreadyUsed))
                .await;
        }
        if let Some(issue) = token.issue_id
            && !issues::mark_used(&tx, issue, now).await?
        {
            // Released or started meanwhile by a concurrent request.
            drop(tx);
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        }
        entry.append(&tx).await?;
        tx.commit().await?;
        status::otp_status(core, caller, &user.id).await
    }

    /// A token presented for registration (registerCredential, and the new token of
    /// changeDevice): the credential must exist, be usable at this bank, and come with as many
    /// codes as the bank's registration mode asks; then, once the user's registration attempt
    /// is reserved, what the code(s) mean.
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
    ) -> Result<Judged, ServiceError> {
        let core = &self.core;
        let credential = match codes::named_credential(core.db(), credential_id).await? {
            Ok(credential) => credential,
            Err((id, code)) => return Ok(Err((id, ServiceError::rejected(code)))),
        };
        let id = credential.id.clone();
        let refused = |err| Ok(Err((Some(id.clone()), err)));
        if let Err(err) = codes::check_usable(&credential, policy) {
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
        let codes = match codes::parse_codes(codes, &credential) {
            Ok(codes) => codes,
            Err(err) => return refused(err),
        };
        // Reserved before the code is checked, so concurrent attempts cannot overrun the limit.
        let limits = core.limits;
        let user_key = format!("register-user:{}:{}", user.tenant_id, user.id);
        if !core
            .take_slot(&user_key, limits.registration_per_user, now)
            .await?
        {
            return refused(ServiceError::rate_limited(
                limits.registration_per_user,
                now,
            ));
        }
        let client_key = format!("register-client:{}", meta.client());
        if !core
            .take_slot(&client_key, limits.registration_failures_per_client, now)
            .await?
        {
            return refused(ServiceError::rate_limited(
                limits.registration_failures_per_client,
                now,
            ));
        }
        let secret = core.open_secret(&credential)?;
        let state = codes::code_state(&credential, &secret)?;
        let (unix, window, look_ahead) = (
            codes::unix(now),
            policy.otp.window.get(),
            policy.otp.hotp_look_ahead.get(),
        );
        let decision = match codes.as_slice() {
            [one] => state.check_one(one, unix, window, look_ahead),
            [first, second] => state.check_pair(first, second, unix, window, look_ahead),
            _ => Decision::Wrong,
        };
        if decision != Decision::Wrong {
            core.give_back_slot(&client_key, limits.registration_failures_per_client, now)
                .await?;
        }
        Ok(Ok((credential, decision)))
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
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let policy = core.policy(caller).await?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, Operation::ChangeDevice, now).user(&user.id);

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
            Err((credential_id, err)) => {
                return core
                    .refuse(entry.credential_opt(credential_id.as_deref()), err)
                    .await;
            }
        };
        let Some(old_binding) = bindings::find_live_binding(
            core.db(),
            core.account_mac().await?,
            &user.tenant_id,
            &user.id,
        )
        .await?
        else {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        };
        if old_binding.credential_id == new_cred.id {
            return core
                .refuse(
                    entry.credential(&new_cred.id),
                    ServiceError::invalid("the new credential is the one already registered"),
                )
                .await;
        }
        let Some(old_cred) =
            credentials::find_credential(core.db(), &old_binding.credential_id).await?
        else {
            return Err(ServiceError::internal("binding without credential"));
        };
        let old_entry = entry.clone().credential(&old_cred.id);
        let new_entry = entry.credential(&new_cred.id);
        let old_parsed = match codes::parse_codes(&[old_code.to_owned()], &old_cred) {
            Ok(codes) => codes,
            Err(err) => return core.refuse(old_entry, err).await,
        };
        let old_secret = core.open_secret(&old_cred)?;
        let old_decision = codes::code_state(&old_cred, &old_secret)?.check_one(
            &old_parsed[0],
            codes::unix(now),
            policy.otp.window.get(),
            policy.otp.hotp_look_ahead.get(),
        );

        let tx = core.write().await?;
        // The old token's code is checked like a login: it takes an attempt first.
        let checked = codes::settle(
            &tx,
            &old_binding,
            &old_cred,
            old_decision,
            codes::lock_limit(&policy),
            now,
        )
        .await?;
        if let Some((err, facts)) = checked.into_failure() {
            old_entry
                .failed(&err)
                .details_opt(facts)
                .append(&tx)
                .await?;
            tx.commit().await?;
            return Err(err);
        }
        // Old code good. Now the new token: any failure rolls back everything above.
        let refuse = |err: ServiceError| core.refuse::<OtpStatus>(new_entry.clone(), err);
        let new_at = match new_decision {
            Decision::Spend { at, .. } => at,
            // A wrong new code is paid for by this user's registration attempts only (see
            // registerCredential).
            Decision::AlreadyUsed | Decision::Wrong => {
                drop(tx);
                return refuse(ServiceError::rejected(
                    if new_decision == Decision::AlreadyUsed {
                        ErrorCode::OtpAlreadyUsed
                    } else {
                        ErrorCode::OtpInvalid
                    },
                ))
                .await;
            }
        };
        if !bindings::transition_binding(
            &tx,
            &old_binding.id,
            &[BindingState::Active],
            BindingState::Replaced,
            false,
            now,
        )
        .await?
        {
            drop(tx);
            return core.refuse(old_entry, ServiceError::locked()).await;
        }
        match bindings::insert_binding(
            &tx,
            core.account_mac().await?,
            new_binding(&user, &new_cred.id, now),
        )
        .await
        {
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                return refuse(ServiceError::rejected(
                    ErrorCode::CredentialAlreadyRegistered,
                ))
                .await;
            }
            other => other?,
        }
        if !codes::spend(&tx, &new_cred, new_at, None, now).await? {
            drop(tx);
            return refuse(ServiceError::rejected(ErrorCode::OtpAlreadyUsed)).await;
        }
        new_entry
            .clone()
            .details(json!({ "old_credential_id": old_cred.id }))
            .append(&tx)
            .await?;
        tx.commit().await?;
        status::otp_status(core, caller, user_id).await
    }
}

/// A new live binding of `credential_id` to `user`, its first success being now.
fn new_binding(user: &UserRow, credential_id: &str, now: DateTime<Utc>) -> BindingRow {
    BindingRow {
        id: format!("bnd_{}", uuid::Uuid::new_v4().simple()),
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        credential_id: credential_id.to_owned(),
        state: BindingState::Active,
        failures: 0,
        last_success_at: Some(now),
        created_at: now,
        updated_at: now,
        // Made by the store as it inserts the row.
        mac: None,
    }
}
