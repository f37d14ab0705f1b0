//! トークン発行 → 初期設定 → 利用開始 → 利用解除 (seed 003): the bank issues a token to the
//! customer's mobile mail address, the customer's app activates it with the service ID, the
//! user ID from the mail and the activation password, and the bank starts OTP use with a code.
//!
//! The activation mail is written to the outbox in the issue's own transaction, so an issue
//! never exists without its mail; delivery (SMTP, when configured) happens afterwards and never
//! fails the issue.

use chrono::{DateTime, Duration, Utc};
use mamori_crypto::DevicePublicKey;
use mamori_domain::policy::{RegistrationMode, SelfIssuePolicy, TenantPolicy};
use mamori_domain::self_issue::{ActivationMailFacts, activation_mail, check_activation_password};
use mamori_domain::tenant_config::TenantConfig;
use mamori_domain::{BindingState, ErrorCode, FailureOutcome, IssueState, TenantId};
use mamori_store::StoreError;
use mamori_store::audit::{self, NewAuditEvent};
use mamori_store::issues::{self, TokenIssueRow};
use mamori_store::outbox::{self, OutboxMailRow};
use mamori_store::records;
use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::bank::NewToken;
use crate::mail::{OutgoingMail, is_mail_address};
use crate::{BankCaller, OtpStatus, Provisioned, RequestMeta, ServiceError, Services};

mod op {
    pub const ISSUE: &str = "issueToken";
    pub const ACTIVATE: &str = "activateToken";
    pub const START: &str = "startOtpUse";
    pub const RELEASE: &str = "releaseOtpUse";
}

/// Digits in the ユーザID of an issue: 10^10 values per bank, so guessing one that is open is
/// hopeless within the activation rate limit.
const ACTIVATION_USER_ID_DIGITS: usize = 10;

/// How many outbox mails one delivery sweep takes on.
const SWEEP_BATCH: u64 = 100;

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

/// A mail in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The mail's ID (`mail_…`).
    pub id: String,
    /// The bank that sent it.
    pub tenant_id: String,
    /// The recipient's address.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When the mail server accepted it; `None` while unsent (always, without SMTP).
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxMailRow> for OutboxMail {
    fn from(row: OutboxMailRow) -> Self {
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            recipient: row.recipient,
            subject: row.subject,
            body: row.body,
            created_at: row.created_at,
            sent_at: row.sent_at,
        }
    }
}

impl Services {
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
        let user = self.bank_user(caller, user_id).await?;
        let config = self.tenant_config(caller).await?;
        let policy = &config.policy;
        let now = self.now();
        self.require_self_issue(caller, meta, op::ISSUE, user_id, policy, now)
            .await?;
        let mail_address = mail_address.trim();
        if !is_mail_address(mail_address) {
            return Err(ServiceError::invalid("mail_address: not a mail address"));
        }
        check_activation_password(activation_password)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        let conn = self.db().connection();
        if records::find_live_binding(conn, &user.tenant_id, &user.id)
            .await?
            .is_some()
        {
            return self
                .refuse(
                    caller,
                    meta,
                    op::ISSUE,
                    user_id,
                    now,
                    None,
                    ServiceError::rejected(ErrorCode::CredentialAlreadyRegistered),
                )
                .await;
        }
        // argon2 is slow: hashed before the transaction so no write lock waits on it.
        let password_hash = self.hash_password(activation_password)?;
        let expires_at =
            now + Duration::days(i64::from(policy.self_issue.activation_valid_days.get()));

        let txn = self.begin().await?;
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
                state: IssueState::Issued.as_str().to_owned(),
                failures: 0,
                credential_id: None,
                expires_at,
                activated_at: None,
                created_at: now,
                updated_at: now,
            };
            // A savepoint, so a refused insert leaves the transaction usable on PostgreSQL.
            let attempt = txn.begin().await.map_err(StoreError::from)?;
            match issues::insert_issue(&attempt, row.clone()).await {
                Ok(()) => {
                    attempt.commit().await.map_err(StoreError::from)?;
                    inserted = Some(row);
                    break;
                }
                Err(StoreError::Conflict(_)) => {
                    attempt.rollback().await.map_err(StoreError::from)?;
                    let taken = issues::find_by_activation_user(
                        &txn,
                        &row.tenant_id,
                        &row.activation_user_id,
                    )
                    .await?
                    .is_some();
                    if taken {
                        continue;
                    }
                    // The one-open-issue index: a concurrent issueToken for this user won.
                    drop(txn);
                    return self
                        .refuse(
                            caller,
                            meta,
                            op::ISSUE,
                            user_id,
                            now,
                            None,
                            ServiceError::rejected(ErrorCode::TokenNotActivated),
                        )
                        .await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let Some(issue) = inserted else {
            return Err(ServiceError::Internal(
                "could not draw a free activation user ID".into(),
            ));
        };
        let text = activation_mail(&ActivationMailFacts {
            bank_name_ja: &config.name_ja,
            bank_name_en: &config.name_en,
            service_id: caller.tenant_id.as_str(),
            user_id: &issue.activation_user_id,
            expires_at,
            public_url: &self.public_url,
        });
        // Time-ordered, so mails written within one clock tick still list newest first.
        let mail_id = format!("mail_{}", uuid::Uuid::now_v7().simple());
        outbox::insert_mail(
            &txn,
            OutboxMailRow {
                id: mail_id.clone(),
                tenant_id: user.tenant_id.clone(),
                recipient: mail_address.to_owned(),
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
        let details = serde_json::json!({
            "issue_id": issue.id,
            "outbox_mail_id": mail_id,
            "expires_at": expires_at.to_rfc3339(),
            "reissue": reissue,
        });
        self.audit_entry(
            &txn,
            caller,
            meta,
            op::ISSUE,
            Some(&user.id),
            None,
            Ok(()),
            Some(details),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(tenant.id = %caller.tenant_id, user.id = %user.id, mail.id = %mail_id, "token issued by mail");
        self.deliver_in_background(&mail_id);
        Ok(IssuedToken {
            mail_address: mail_address.to_owned(),
            expires_at,
            mail_id,
        })
    }

    /// activateToken (初期設定): the app proves the service ID, the user ID from the mail and the
    /// activation password, and gets its credential. An unknown service or user and a wrong
    /// password answer alike, after the same argon2 work.
    pub async fn activate_token(
        &self,
        meta: &RequestMeta,
        service_id: &str,
        activation_user_id: &str,
        activation_password: &str,
        device_key: Option<&DevicePublicKey>,
    ) -> Result<ActivatedToken, ServiceError> {
        let now = self.now();
        let client = meta.client_addr.clone().unwrap_or_else(|| "unknown".into());
        if !self
            .take_rate_slot(&format!("activate:{client}"), self.provision_limit, now)
            .await?
        {
            return Err(ServiceError::rejected(ErrorCode::RateLimited));
        }
        let tenant = TenantId::parse(service_id.trim()).ok();
        let config = match &tenant {
            Some(tenant) => self.db().find_tenant_config(tenant).await?,
            None => None,
        };
        // An unknown service or user answers like a first wrong password at that bank.
        let max_attempts = config.as_ref().map_or_else(
            || SelfIssuePolicy::default().activation_max_attempts.get(),
            |c| c.policy.self_issue.activation_max_attempts.get(),
        );
        let failed = || ServiceError::Rejected {
            code: ErrorCode::ActivationFailed,
            attempts_left: Some(max_attempts.saturating_sub(1)),
        };
        let (Some(tenant), Some(config)) = (tenant, config) else {
            self.passwords.verify_dummy(activation_password);
            return Err(failed());
        };
        if !config.policy.self_issue.enabled {
            self.passwords.verify_dummy(activation_password);
            return Err(failed());
        }
        let conn = self.db().connection();
        let Some(issue) =
            issues::find_by_activation_user(conn, tenant.as_str(), activation_user_id.trim())
                .await?
        else {
            self.passwords.verify_dummy(activation_password);
            let err = failed();
            self.audit_token_alone(&tenant, meta, None, &err, now)
                .await?;
            return Err(err);
        };
        let (tenant, issue) = (&tenant, &issue);
        let refuse = |code| async move {
            let err = ServiceError::rejected(code);
            self.audit_token_alone(tenant, meta, Some(issue), &err, now)
                .await?;
            Err::<ActivatedToken, _>(err)
        };
        match IssueState::parse(&issue.state) {
            Some(IssueState::Issued) => {}
            Some(IssueState::Invalidated) => return refuse(ErrorCode::ActivationLocked).await,
            _ => return refuse(ErrorCode::ActivationExpired).await,
        }
        if issue.expires_at <= now {
            issues::expire_issue(conn, &issue.id, now).await?;
            return refuse(ErrorCode::ActivationExpired).await;
        }
        let max = i32::try_from(config.policy.self_issue.activation_max_attempts.get())
            .unwrap_or(i32::MAX);
        // Reserve first: no password is ever checked beyond the bank's limit, however many
        // requests run at once.
        if !issues::reserve_activation_attempt(conn, &issue.id, max, now).await? {
            let state = issues::find_issue(conn, &issue.id)
                .await?
                .and_then(|row| IssueState::parse(&row.state));
            return refuse(match state {
                Some(IssueState::Issued | IssueState::Invalidated) => ErrorCode::ActivationLocked,
                _ => ErrorCode::ActivationExpired,
            })
            .await;
        }
        if !self
            .passwords
            .verify(activation_password, &issue.password_hash)
        {
            return self.activation_failed(tenant, meta, issue, max, now).await;
        }

        let txn = self.begin().await?;
        // Claim first, then make the credential in the same transaction: only the one request
        // that moves the issue out of `issued` ever creates a credential.
        if !issues::claim_activation(&txn, &issue.id, now).await? {
            drop(txn);
            return refuse(ErrorCode::ActivationExpired).await;
        }
        let provisioned = self
            .new_soft_credential_in(&txn, meta, op::ACTIVATE, device_key)
            .await?;
        issues::attach_credential(&txn, &issue.id, &provisioned.credential_id).await?;
        self.audit_token(
            &txn,
            tenant,
            meta,
            Some(issue),
            Some(&provisioned.credential_id),
            Ok(()),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(
            tenant.id = %tenant,
            user.id = %issue.user_id,
            credential.id = %provisioned.credential_id,
            "issued token activated"
        );
        Ok(ActivatedToken {
            service_id: tenant.to_string(),
            provisioned,
        })
    }

    /// A wrong activation password (its attempt already reserved): invalidate the issue at the
    /// bank's limit, and say how many tries remain.
    async fn activation_failed(
        &self,
        tenant: &TenantId,
        meta: &RequestMeta,
        issue: &TokenIssueRow,
        max: i32,
        now: DateTime<Utc>,
    ) -> Result<ActivatedToken, ServiceError> {
        let txn = self.begin().await?;
        issues::invalidate_if_at_limit(&txn, &issue.id, max, now).await?;
        let failures = issues::find_issue(&txn, &issue.id)
            .await?
            .map_or(max, |row| row.failures);
        let outcome = FailureOutcome::of(
            u32::try_from(failures).unwrap_or(0),
            u32::try_from(max).unwrap_or(0),
        );
        let err = ServiceError::Rejected {
            code: if outcome.locks {
                ErrorCode::ActivationLocked
            } else {
                ErrorCode::ActivationFailed
            },
            attempts_left: Some(outcome.attempts_left),
        };
        self.audit_token(&txn, tenant, meta, Some(issue), None, Err(&err), now)
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Err(err)
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
        let user = self.bank_user(caller, user_id).await?;
        let policy = self.policy(caller).await?;
        let now = self.now();
        self.require_self_issue(caller, meta, op::START, user_id, &policy, now)
            .await?;
        let open = issues::find_open_issue(self.db().connection(), &user.tenant_id, &user.id)
            .await?
            .filter(|issue| {
                issue.state == IssueState::Activated.as_str() || issue.expires_at > now
            });
        let Some(issue) = open else {
            return self
                .refuse(
                    caller,
                    meta,
                    op::START,
                    user_id,
                    now,
                    None,
                    ServiceError::rejected(ErrorCode::OtpNotRegistered),
                )
                .await;
        };
        let credential_id = match (&issue.credential_id, IssueState::parse(&issue.state)) {
            (Some(credential_id), Some(IssueState::Activated)) => credential_id.clone(),
            _ => {
                return self
                    .refuse(
                        caller,
                        meta,
                        op::START,
                        user_id,
                        now,
                        None,
                        ServiceError::rejected(ErrorCode::TokenNotActivated),
                    )
                    .await;
            }
        };
        // Seed 003's 利用開始 screen has one code field, whatever the bank's registration mode.
        self.register_token(
            caller,
            meta,
            &user,
            &policy,
            NewToken {
                operation: op::START,
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
        let user = self.bank_user(caller, user_id).await?;
        let policy = self.policy(caller).await?;
        let now = self.now();
        self.require_self_issue(caller, meta, op::RELEASE, user_id, &policy, now)
            .await?;
        let txn = self.begin().await?;
        let live = records::find_live_binding(&txn, &user.tenant_id, &user.id).await?;
        let released = match &live {
            Some(binding) => {
                records::transition_binding(
                    &txn,
                    &binding.id,
                    &[BindingState::Active.as_str(), BindingState::Locked.as_str()],
                    BindingState::Released.as_str(),
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
            return self
                .refuse(
                    caller,
                    meta,
                    op::RELEASE,
                    user_id,
                    now,
                    None,
                    ServiceError::rejected(ErrorCode::OtpNotRegistered),
                )
                .await;
        }
        let credential_id = live
            .as_ref()
            .filter(|_| released)
            .map(|binding| binding.credential_id.as_str());
        let details = serde_json::json!({
            "released_token": released,
            "cancelled_issues": cancelled,
        });
        self.audit_entry(
            &txn,
            caller,
            meta,
            op::RELEASE,
            Some(&user.id),
            credential_id,
            Ok(()),
            Some(details),
            now,
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        self.otp_status(caller, user_id).await
    }

    /// listOutboxMails: the bank's own mails, newest first.
    pub async fn list_outbox_mails(
        &self,
        caller: &BankCaller,
        limit: u64,
    ) -> Result<Vec<OutboxMail>, ServiceError> {
        self.outbox(Some(&caller.tenant_id), limit).await
    }

    /// The outbox of one bank or of all (the operator's `mamori outbox`), newest first.
    pub async fn outbox(
        &self,
        tenant: Option<&TenantId>,
        limit: u64,
    ) -> Result<Vec<OutboxMail>, ServiceError> {
        Ok(
            outbox::list_mails(self.db().connection(), tenant.map(TenantId::as_str), limit)
                .await?
                .into_iter()
                .map(OutboxMail::from)
                .collect(),
        )
    }

    /// Delivers one outbox mail if a transport is configured and this node wins the claim.
    /// Returns whether it was sent now. A failed delivery is recorded on the mail and left for
    /// the next sweep.
    pub async fn deliver_mail(&self, mail_id: &str) -> Result<bool, ServiceError> {
        let Some(transport) = self.mail.clone() else {
            return Ok(false);
        };
        let conn = self.db().connection();
        if !outbox::claim_mail(conn, mail_id, self.now()).await? {
            return Ok(false);
        }
        let Some(row) = outbox::find_mail(conn, mail_id).await? else {
            return Ok(false);
        };
        let mail = OutgoingMail {
            to: row.recipient,
            subject: row.subject,
            body: row.body,
        };
        match transport.send(&mail).await {
            Ok(()) => {
                outbox::mark_sent(conn, mail_id, self.now()).await?;
                tracing::info!(mail.id = %mail_id, tenant.id = %row.tenant_id, "mail sent");
                Ok(true)
            }
            Err(err) => {
                // The error may quote the recipient: it goes to the outbox row, not the log.
                outbox::record_failure(conn, mail_id, &err.to_string()).await?;
                tracing::warn!(
                    mail.id = %mail_id,
                    tenant.id = %row.tenant_id,
                    attempts = row.attempts,
                    "mail delivery failed; the next sweep retries it"
                );
                Ok(false)
            }
        }
    }

    /// Retries every unsent, unclaimed mail (serve runs this every 30 s when SMTP is
    /// configured). Returns how many were sent.
    pub async fn deliver_pending_mails(&self) -> Result<usize, ServiceError> {
        if self.mail.is_none() {
            return Ok(0);
        }
        let ids =
            outbox::deliverable_mail_ids(self.db().connection(), SWEEP_BATCH, self.now()).await?;
        let mut sent = 0;
        for id in ids {
            if self.deliver_mail(&id).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Whether outbox mails leave the machine.
    pub fn delivers_mail(&self) -> bool {
        self.mail.is_some()
    }

    fn deliver_in_background(&self, mail_id: &str) {
        if self.mail.is_none() {
            return;
        }
        let services = self.clone();
        let mail_id = mail_id.to_owned();
        tokio::spawn(async move {
            if let Err(err) = services.deliver_mail(&mail_id).await {
                tracing::warn!(mail.id = %mail_id, error = %err, "mail delivery deferred to the sweep");
            }
        });
    }

    async fn tenant_config(&self, caller: &BankCaller) -> Result<TenantConfig, ServiceError> {
        self.db()
            .find_tenant_config(&caller.tenant_id)
            .await?
            .ok_or_else(|| ServiceError::rejected(ErrorCode::NotFound))
    }

    async fn require_self_issue(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        operation: &str,
        user_id: &str,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        if policy.self_issue.enabled {
            return Ok(());
        }
        self.refuse(
            caller,
            meta,
            operation,
            user_id,
            now,
            None,
            ServiceError::rejected(ErrorCode::SelfIssueDisabled),
        )
        .await
    }

    /// An activation's entry in the bank's audit trail; the actor is the customer's token.
    #[expect(
        clippy::too_many_arguments,
        reason = "one audit entry has that many facts"
    )]
    async fn audit_token(
        &self,
        txn: &DatabaseTransaction,
        tenant: &TenantId,
        meta: &RequestMeta,
        issue: Option<&TokenIssueRow>,
        credential_id: Option<&str>,
        outcome: Result<(), &ServiceError>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let (outcome, error_code) = match outcome {
            Ok(()) => ("success", None),
            Err(err) => ("failure", Some(err.code().as_str().to_owned())),
        };
        let event = NewAuditEvent {
            tenant_id: tenant.to_string(),
            actor: "token".into(),
            operation: op::ACTIVATE.into(),
            outcome: outcome.into(),
            error_code,
            user_id: issue.map(|i| i.user_id.clone()),
            credential_id: credential_id.map(str::to_owned),
            request_id: meta.request_id.clone(),
            client_addr: meta.client_addr.clone(),
            details: issue.map(|i| serde_json::json!({ "issue_id": i.id })),
        };
        audit::append(txn, event, now).await?;
        Ok(())
    }

    async fn audit_token_alone(
        &self,
        tenant: &TenantId,
        meta: &RequestMeta,
        issue: Option<&TokenIssueRow>,
        err: &ServiceError,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let txn = self.begin().await?;
        self.audit_token(&txn, tenant, meta, issue, None, Err(err), now)
            .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(())
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
