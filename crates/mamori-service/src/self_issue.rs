//! トークン発行 → 初期設定 → 利用開始 → 利用解除 (seed 003): the bank issues a token to the
//! customer's mobile mail address, the customer's app activates it with the service ID, the
//! user ID from the mail and the activation password, and the bank starts OTP use with a code.
//!
//! The activation mail is written to the outbox in the issue's own transaction, so an issue
//! never exists without its mail; delivery (SMTP, when configured) happens afterwards and never
//! fails the issue.

use chrono::{DateTime, Duration, Utc};
use mamori_crypto::DevicePublicKey;
use mamori_domain::policy::{RegistrationMode, TenantPolicy};
use mamori_domain::self_issue::{ActivationMailFacts, activation_mail, check_activation_password};
use mamori_domain::tenant_config::TenantConfig;
use mamori_domain::{BindingState, ErrorCode, FailureOutcome, IssueState, Operation, TenantId};
use mamori_store::issues::{self, TokenIssueRow};
use mamori_store::outbox::{self as stored_outbox, OutboxMailRow};
use mamori_store::{WriteTx, bindings};
use serde_json::json;

use crate::core::audit::AuditEntry;
use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::keyless::{self, Route};
use crate::mail::is_mail_address;
use crate::outbox::Outbox;
use crate::passwords::Passwords;
use crate::provision::{Provisioned, Provisioning};
use crate::registration::{NewToken, Registration};
use crate::status::{self, OtpStatus};

/// Digits in the ユーザID of an issue: 10^10 values per bank, so guessing one that is open is
/// hopeless within the activation rate limit.
const ACTIVATION_USER_ID_DIGITS: usize = 10;

/// A token issued by mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The mail address the activation details went to.
    pub mail_address: String,
    /// Until when the app can activate it.
    pub expires_at: DateTime<Utc>,
    /// The outbox mail carrying the activation details.
    pub mail_id: String,
}

/// An activated token: the app's credential, at this bank.
#[derive(Debug)]
pub struct ActivatedToken {
    /// サービスID: the bank.
    pub service_id: String,
    /// The new credential (secret shown this once).
    pub provisioned: Provisioned,
}

/// Tokens issued by mail (seed 003).
#[derive(Debug, Clone)]
pub struct SelfIssue {
    core: Core,
    passwords: Passwords,
    registration: Registration,
    provisioning: Provisioning,
    outbox: Outbox,
    /// The base URL the token app reaches Mamori at, named in activation mails.
    public_url: std::sync::Arc<str>,
}

impl SelfIssue {
    pub(crate) fn new(
        core: Core,
        passwords: Passwords,
        registration: Registration,
        provisioning: Provisioning,
        outbox: Outbox,
        public_url: std::sync::Arc<str>,
    ) -> Self {
        Self {
            core,
            passwords,
            registration,
            provisioning,
            outbox,
            public_url,
        }
    }

    /// issueToken (トークン発行): a new token issue for the user, its activation mail in the
    /// outbox, any open issue of the user cancelled — all in one transaction.
    pub async fn issue_token(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        mail_address: &str,
        activation_password: &str,
    ) -> Result<IssuedToken, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let config = core.config(&caller.tenant_id).await?;
        let policy = &config.policy;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, Operation::IssueToken, now).user(&user.id);
        self.require_self_issue(&entry, policy).await?;
        let mail_address = mail_address.trim();
        if !is_mail_address(mail_address) {
            return Err(ServiceError::invalid("mail_address: not a mail address"));
        }
        check_activation_password(activation_password)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        if bindings::find_live_binding(
            core.db(),
            core.account_mac().await?,
            &user.tenant_id,
            &user.id,
        )
        .await?
        .is_some()
        {
            return core
                .refuse(
                    entry,
                    ServiceError::rejected(ErrorCode::CredentialAlreadyRegistered),
                )
                .await;
        }
        // argon2 is slow: hashed before the transaction so no write lock waits on it.
        let password_hash = self.passwords.hash(activation_password).await?;
        let expires_at =
            now + Duration::days(i64::from(policy.self_issue.activation_valid_days.get()));

        let txn = core.write().await?;
        let reissue = issues::cancel_open_issues(&txn, &user.tenant_id, &user.id, now).await? > 0;
        let mut inserted = None;
        for _ in 0..5 {
            let row = TokenIssueRow {
                id: format!("iss_{}", uuid::Uuid::new_v4().simple()),
                tenant_id: user.tenant_id.clone(),
                user_id: user.id.clone(),
                activation_user_id: crate::random::digits(ACTIVATION_USER_ID_DIGITS)?,
                mail_address: mail_address.to_owned(),
                password_hash: password_hash.clone(),
                state: IssueState::Issued,
                failures: 0,
                credential_id: None,
                expires_at,
                activated_at: None,
                created_at: now,
                updated_at: now,
            };
            if issues::insert_unless_taken(&txn, row.clone()).await? {
                inserted = Some(row);
                break;
            }
            let drawn_id_taken =
                issues::find_by_activation_user(&txn, &row.tenant_id, &row.activation_user_id)
                    .await?
                    .is_some();
            if drawn_id_taken {
                continue;
            }
            // The one-open-issue index: a concurrent issueToken for this user won.
            drop(txn);
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::TokenNotActivated))
                .await;
        }
        let Some(issue) = inserted else {
            return Err(ServiceError::internal(
                "could not draw a free activation user ID",
            ));
        };
        let mail_id = self
            .write_activation_mail(&txn, &config, &issue, now)
            .await?;
        entry
            .details(json!({
                "issue_id": issue.id,
                "outbox_mail_id": mail_id,
                "expires_at": expires_at.to_rfc3339(),
                "reissue": reissue,
            }))
            .append(&txn)
            .await?;
        txn.commit().await?;
        tracing::info!(tenant.id = %caller.tenant_id, user.id = %user.id, mail.id = %mail_id, "token issued by mail");
        self.outbox.deliver_in_background(&mail_id);
        Ok(IssuedToken {
            mail_address: mail_address.to_owned(),
            expires_at,
            mail_id,
        })
    }

    /// activateToken (初期設定): the app proves the service ID, the user ID from the mail and the
    /// activation password, and gets its credential.
    ///
    /// Every failure — an unknown service or user ID, a wrong password, an issue that expired,
    /// was activated already, was replaced, or is locked after the bank's
    /// `activation_max_attempts` wrong passwords — is the same `activation_failed`, without an
    /// attempt count and after the same work: one unit of work before the password (the
    /// client's failure slot, and the issue's attempt when it is live), one argon2
    /// verification (against a dummy hash when there is no live issue), one audited unit
    /// after. A stranger learns nothing, not even whether a user ID exists; the audit trail
    /// keeps the real reason. Failures are limited per client.
    pub async fn activate_token(
        &self,
        meta: &RequestMeta,
        service_id: &str,
        activation_user_id: &str,
        activation_password: &str,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<ActivatedToken, ServiceError> {
        let core = &self.core;
        let now = core.now();
        let target = self
            .activation_target(service_id, activation_user_id.trim())
            .await?;

        // Before any password is checked, in one unit of work: the client's failure slot and,
        // for a live issue, its attempt (so no password is ever checked beyond the bank's
        // limit, however many requests run at once). An issue whose time ran out moves to
        // `expired` here.
        let tx = core.write().await?;
        let slot = keyless::take_failure_slot(&tx, core, Route::Activate, meta).await?;
        let live = match &target {
            Target::Issue { issue, max, .. } if issue.state == IssueState::Issued => {
                if issue.expires_at > now {
                    issues::reserve_activation_attempt(&tx, &issue.id, *max, now).await?
                } else {
                    issues::expire_issue(&tx, &issue.id, now).await?;
                    false
                }
            }
            _ => false,
        };
        tx.commit().await?;

        let attempt = Attempt {
            meta,
            password: activation_password,
            device_key,
            now,
        };
        let activated = match target {
            Target::Issue { tenant, issue, max } if live => {
                self.activate_live(&tenant, &issue, max, &attempt).await?
            }
            target => {
                self.passwords.verify_dummy(activation_password).await?;
                core.record_alone(target.refusal(meta, now)).await?;
                None
            }
        };
        match activated {
            Some(activated) => {
                slot.forgive(core).await?;
                Ok(activated)
            }
            None => Err(ServiceError::rejected(ErrorCode::ActivationFailed)),
        }
    }

    /// What an activation names: reads only.
    async fn activation_target(
        &self,
        service_id: &str,
        activation_user_id: &str,
    ) -> Result<Target, ServiceError> {
        let db = self.core.db();
        let Some(tenant) = TenantId::parse(service_id.trim()).ok() else {
            return Ok(Target::NoBank);
        };
        let Some(config) = db.find_tenant_config(&tenant).await? else {
            return Ok(Target::NoBank);
        };
        if !config.policy.self_issue.enabled {
            return Ok(Target::NoSelfIssue(tenant));
        }
        let Some(issue) =
            issues::find_by_activation_user(db, tenant.as_str(), activation_user_id).await?
        else {
            return Ok(Target::NoIssue(tenant));
        };
        let max = i32::try_from(config.policy.self_issue.activation_max_attempts.get())
            .unwrap_or(i32::MAX);
        Ok(Target::Issue {
            tenant,
            issue: Box::new(issue),
            max,
        })
    }

    /// The password check of a live issue whose attempt is reserved: the credential, or `None`
    /// (audited) when the password is wrong or a concurrent activation won.
    async fn activate_live(
        &self,
        tenant: &TenantId,
        issue: &TokenIssueRow,
        max: i32,
        attempt: &Attempt<'_>,
    ) -> Result<Option<ActivatedToken>, ServiceError> {
        let core = &self.core;
        let (meta, now) = (attempt.meta, attempt.now);
        if !self
            .passwords
            .verify(attempt.password, &issue.password_hash)
            .await?
        {
            self.activation_failed(tenant, meta, issue, max, now)
                .await?;
            return Ok(None);
        }

        let txn = core.write().await?;
        // Claim first, then make the credential in the same transaction: only the one request
        // that moves the issue out of `issued` ever creates a credential.
        if !issues::claim_activation(&txn, &issue.id, now).await? {
            drop(txn);
            core.record_alone(
                activation_entry(tenant, meta, Some(issue), now)
                    .failed_with(ErrorCode::ActivationFailed)
                    .details(json!({ "why": "activated_meanwhile" })),
            )
            .await?;
            return Ok(None);
        }
        let provisioned = self
            .provisioning
            .new_soft_credential_in(
                &txn,
                AuditEntry::platform_token(meta, Operation::ActivateToken, now),
                attempt.device_key,
            )
            .await?;
        issues::attach_credential(&txn, &issue.id, &provisioned.credential_id).await?;
        activation_entry(tenant, meta, Some(issue), now)
            .credential(&provisioned.credential_id)
            .append(&txn)
            .await?;
        txn.commit().await?;
        tracing::info!(
            tenant.id = %tenant,
            user.id = %issue.user_id,
            credential.id = %provisioned.credential_id,
            "issued token activated"
        );
        Ok(Some(ActivatedToken {
            service_id: tenant.to_string(),
            provisioned,
        }))
    }

    /// A wrong activation password (its attempt already reserved): invalidate the issue at the
    /// bank's limit, audited with what remains (the customer is told nothing of it).
    async fn activation_failed(
        &self,
        tenant: &TenantId,
        meta: &RequestMeta,
        issue: &TokenIssueRow,
        max: i32,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let txn = self.core.write().await?;
        issues::invalidate_if_at_limit(&txn, &issue.id, max, now).await?;
        let failures = issues::find_issue(&txn, &issue.id)
            .await?
            .map_or(max, |row| row.failures);
        let outcome = FailureOutcome::of(
            u32::try_from(failures).unwrap_or(0),
            u32::try_from(max).unwrap_or(0),
        );
        activation_entry(tenant, meta, Some(issue), now)
            .failed_with(ErrorCode::ActivationFailed)
            .details(json!({
                "why": if outcome.locks { "wrong_password_locked" } else { "wrong_password" },
                "attempts_left": outcome.attempts_left,
            }))
            .append(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// startOtpUse (利用開始): the first code of the activated token registers it, exactly like
    /// registerCredential with one code, and the issue is used up in the same transaction.
    pub async fn start_otp_use(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let policy = core.policy(caller).await?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, Operation::StartOtpUse, now).user(&user.id);
        self.require_self_issue(&entry, &policy).await?;
        let open = issues::find_open_issue(core.db(), &user.tenant_id, &user.id)
            .await?
            .filter(|issue| issue.state == IssueState::Activated || issue.expires_at > now);
        let Some(issue) = open else {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        };
        let credential_id = match (&issue.credential_id, issue.state) {
            (Some(credential_id), IssueState::Activated) => credential_id.clone(),
            _ => {
                return core
                    .refuse(entry, ServiceError::rejected(ErrorCode::TokenNotActivated))
                    .await;
            }
        };
        // Seed 003's 利用開始 screen has one code field, whatever the bank's registration mode.
        self.registration
            .register_token(
                caller,
                meta,
                &user,
                &policy,
                NewToken {
                    operation: Operation::StartOtpUse,
                    credential_id: &credential_id,
                    codes: &[code.to_owned()],
                    mode: RegistrationMode::OneCode,
                    issue_id: Some(&issue.id),
                },
            )
            .await
    }

    /// releaseOtpUse (利用解除): the user's live token is released and any open issue
    /// cancelled, in one transaction; the status reads 未登録 again.
    pub async fn release_otp_use(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let policy = core.policy(caller).await?;
        let now = core.now();
        let entry = AuditEntry::bank(caller, meta, Operation::ReleaseOtpUse, now).user(&user.id);
        self.require_self_issue(&entry, &policy).await?;
        let txn = core.write().await?;
        let live =
            bindings::find_live_binding(&txn, core.account_mac().await?, &user.tenant_id, &user.id)
                .await?;
        let released = match &live {
            Some(binding) => {
                bindings::transition_binding(
                    &txn,
                    &binding.id,
                    &[BindingState::Active, BindingState::Locked],
                    BindingState::Released,
                    false,
                    now,
                )
                .await?
            }
            None => false,
        };
        let cancelled = issues::cancel_open_issues(&txn, &user.tenant_id, &user.id, now).await?;
        if !released && cancelled == 0 {
            drop(txn);
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        }
        let credential_id = live
            .as_ref()
            .filter(|_| released)
            .map(|binding| binding.credential_id.as_str());
        entry
            .credential_opt(credential_id)
            .details(json!({
                "released_token": released,
                "cancelled_issues": cancelled,
            }))
            .append(&txn)
            .await?;
        txn.commit().await?;
        status::otp_status(core, caller, user_id).await
    }

    /// Writes an issue's activation mail into the outbox (in the caller's unit of work) and
    /// returns its ID.
    async fn write_activation_mail(
        &self,
        tx: &WriteTx,
        config: &TenantConfig,
        issue: &TokenIssueRow,
        now: DateTime<Utc>,
    ) -> Result<String, ServiceError> {
        let text = activation_mail(&ActivationMailFacts {
            bank_name_ja: &config.name_ja,
            bank_name_en: &config.name_en,
            service_id: &issue.tenant_id,
            user_id: &issue.activation_user_id,
            expires_at: issue.expires_at,
            public_url: &self.public_url,
        });
        // Time-ordered, so mails written within one clock tick still list newest first.
        let mail_id = format!("mail_{}", uuid::Uuid::now_v7().simple());
        stored_outbox::insert_mail(
            tx,
            OutboxMailRow {
                id: mail_id.clone(),
                tenant_id: issue.tenant_id.clone(),
                recipient: issue.mail_address.clone(),
                subject: text.subject,
                body: text.body,
                created_at: now,
                claimed_at: None,
                sent_at: None,
                attempts: 0,
                last_error: None,
            },
        )
        .await?;
        Ok(mail_id)
    }

    /// Sends the activation mail of the user's open issue again (a lost or deleted mail): the
    /// same service ID, user ID and deadline; the activation password stays the customer's.
    pub async fn resend_activation_mail(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
    ) -> Result<IssuedToken, ServiceError> {
        let core = &self.core;
        let user = core.bank_user(caller, user_id).await?;
        let config = core.config(&caller.tenant_id).await?;
        let now = core.now();
        let entry =
            AuditEntry::bank(caller, meta, Operation::ResendActivationMail, now).user(&user.id);
        let open = issues::find_open_issue(core.db(), &user.tenant_id, &user.id)
            .await?
            .filter(|issue| issue.state == IssueState::Issued && issue.expires_at > now);
        let Some(issue) = open else {
            return core
                .refuse(entry, ServiceError::rejected(ErrorCode::OtpNotRegistered))
                .await;
        };
        let txn = core.write().await?;
        let mail_id = self
            .write_activation_mail(&txn, &config, &issue, now)
            .await?;
        entry
            .details(json!({ "issue_id": issue.id, "outbox_mail_id": mail_id }))
            .append(&txn)
            .await?;
        txn.commit().await?;
        self.outbox.deliver_in_background(&mail_id);
        Ok(IssuedToken {
            mail_address: issue.mail_address,
            expires_at: issue.expires_at,
            mail_id,
        })
    }

    /// Refuses (audited) at a bank that does not issue tokens by mail.
    async fn require_self_issue(
        &self,
        entry: &AuditEntry,
        policy: &TenantPolicy,
    ) -> Result<(), ServiceError> {
        if policy.self_issue.enabled {
            return Ok(());
        }
        self.core
            .refuse(
                entry.clone(),
                ServiceError::rejected(ErrorCode::SelfIssueDisabled),
            )
            .await
    }
}

/// What the token app sent to activateToken.
struct Attempt<'a> {
    meta: &'a RequestMeta,
    password: &'a str,
    device_key: Option<&'a DevicePublicKey>,
    now: DateTime<Utc>,
}

/// What an activation names.
enum Target {
    /// No bank with this service ID.
    NoBank,
    /// A bank that does not issue tokens by mail.
    NoSelfIssue(TenantId),
    /// No issue with this user ID at the bank.
    NoIssue(TenantId),
    /// An issue, in whatever state.
    Issue {
        tenant: TenantId,
        issue: Box<TokenIssueRow>,
        /// The bank's `activation_max_attempts`.
        max: i32,
    },
}

impl Target {
    /// The audit entry of an activation refused without a password check, with the reason.
    fn refusal(&self, meta: &RequestMeta, now: DateTime<Utc>) -> AuditEntry {
        let (entry, why) = match self {
            Self::NoBank => (
                AuditEntry::platform_token(meta, Operation::ActivateToken, now),
                "unknown_service",
            ),
            Self::NoSelfIssue(tenant) => (
                activation_entry(tenant, meta, None, now),
                "self_issue_disabled",
            ),
            Self::NoIssue(tenant) => (activation_entry(tenant, meta, None, now), "unknown_user"),
            Self::Issue { tenant, issue, .. } => (
                activation_entry(tenant, meta, Some(issue.as_ref()), now),
                match issue.state {
                    // Its time ran out, or its attempts did (a concurrent try took the last).
                    IssueState::Issued if issue.expires_at <= now => IssueState::Expired.as_str(),
                    IssueState::Issued => "no_attempts_left",
                    state => state.as_str(),
                },
            ),
        };
        entry
            .failed_with(ErrorCode::ActivationFailed)
            .details(json!({ "why": why }))
    }
}

/// An activation's entry in the bank's audit trail; the actor is the customer's token.
fn activation_entry(
    tenant: &TenantId,
    meta: &RequestMeta,
    issue: Option<&TokenIssueRow>,
    now: DateTime<Utc>,
) -> AuditEntry {
    let entry = AuditEntry::token(tenant.as_str(), meta, Operation::ActivateToken, now);
    match issue {
        Some(issue) => entry
            .user(&issue.user_id)
            .details(json!({ "issue_id": issue.id })),
        None => entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_user_ids_are_ten_digits() {
        let a = crate::random::digits(ACTIVATION_USER_ID_DIGITS).expect("random");
        let b = crate::random::digits(ACTIVATION_USER_ID_DIGITS).expect("random");
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|c| c.is_ascii_digit()), "{a}");
        assert_ne!(a, b);
    }
}
