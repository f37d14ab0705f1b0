//! The help desk in the console: a bank's customers found by contract number, user ID or
//! credential ID (in pages, never a whole table), everything about one of them at the bank,
//! and the support actions — each with a reason that goes into the bank's audit trail.

use chrono::{DateTime, Utc};
use mamori_domain::{BindingState, ErrorCode, IssueState, LoginStep, TenantId};
use mamori_otp::TypedCredentialId;
use mamori_store::console::{self, UserQuery};
use mamori_store::{bindings, credentials, issues};

use crate::admin::OperatorCaller;
use crate::audit_trail::AuditRecord;
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;
use crate::push::{Push, PushApprovalView};
use crate::self_issue::{IssuedToken, SelfIssue};
use crate::status::OtpStatus;
use crate::support_desk::SupportDesk;
use crate::users::User;

/// The largest page of users.
pub const MAX_USER_PAGE: u64 = 100;

/// How a search is asked: one text that may be a contract number, a user ID or a credential
/// ID, or each field on its own.
#[derive(Debug, Clone, Default)]
pub struct CustomerSearch {
    /// 契約者番号.
    pub contract_number: Option<String>,
    /// 利用者ID.
    pub user_id: Option<String>,
    /// クレデンシャルID.
    pub credential_id: Option<String>,
}

/// A user in a search result, with the state of their token at the bank.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    /// The user.
    pub user: User,
    /// Their latest token's state at this bank, if they have one.
    pub token_state: Option<BindingState>,
    /// Their latest token.
    pub credential_id: Option<String>,
}

/// One registration of a token to the user at this bank.
#[derive(Debug, Clone)]
pub struct TokenBinding {
    /// The binding's ID.
    pub id: String,
    /// The credential.
    pub credential_id: String,
    /// Its state here.
    pub state: BindingState,
    /// Consecutive wrong codes here.
    pub failures: i32,
    /// The last accepted code here.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When registered.
    pub created_at: DateTime<Utc>,
    /// The drift the token's clock has (steps of its period), learned by 同期ズレ補正.
    pub drift_steps: i64,
    /// Whether the credential is suspended on the whole platform.
    pub credential_suspended: bool,
}

/// A login waiting for its next step.
#[derive(Debug, Clone)]
pub struct OpenLogin {
    /// The login ID.
    pub id: String,
    /// What it waits for.
    pub step: LoginStep,
    /// Until when.
    pub expires_at: DateTime<Utc>,
}

/// A token issued by mail and not yet in use.
#[derive(Debug, Clone)]
pub struct OpenIssue {
    /// 申請済 (issued) or activated by the app.
    pub state: IssueState,
    /// Where the mail went.
    pub mail_address: String,
    /// Until when the app can activate it.
    pub expires_at: DateTime<Utc>,
}

/// Everything about one user at one bank, never a secret.
#[derive(Debug, Clone)]
pub struct CustomerDetail {
    /// The user.
    pub user: User,
    /// Consecutive wrong login passwords.
    pub password_failures: i32,
    /// When the login password was last set.
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Their OTP status here.
    pub status: OtpStatus,
    /// Their tokens here, newest first.
    pub bindings: Vec<TokenBinding>,
    /// Logins in progress.
    pub open_logins: Vec<OpenLogin>,
    /// A token issued by mail, not yet started.
    pub open_issue: Option<OpenIssue>,
    /// Push approvals waiting for the phone.
    pub pending_approvals: Vec<PushApprovalView>,
    /// Their latest entries in the bank's trail.
    pub recent_audit: Vec<AuditRecord>,
}

/// The help desk.
#[derive(Debug, Clone)]
pub struct CustomerDesk {
    core: Core,
    desk: SupportDesk,
    push: Push,
    self_issue: SelfIssue,
}

impl CustomerDesk {
    pub(crate) fn new(core: Core, desk: SupportDesk, push: Push, self_issue: SelfIssue) -> Self {
        Self {
            core,
            desk,
            push,
            self_issue,
        }
    }

    /// A page of a bank's users matching `search`, after the cursor (a user ID).
    pub async fn search(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
        search: &CustomerSearch,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<CustomerRow>, ServiceError> {
        let bank = caller.bank(bank_id)?;
        let folded = |s: &Option<String>| {
            s.as_deref()
                .map(|v| {
                    v.trim()
                        .chars()
                        .map(mamori_otp::fold_width)
                        .collect::<String>()
                })
                .filter(|v| !v.is_empty())
        };
        // A typed credential ID or an imported token's serial is normalised as everywhere else
        // (width, case, hyphens).
        let credential_id = folded(&search.credential_id)
            .map(|id| TypedCredentialId::parse(&id).map_or(id, |name| name.as_str().to_owned()));
        let query = UserQuery {
            contract_number: folded(&search.contract_number),
            user_code: folded(&search.user_id),
            credential_id,
        };
        let db = self.core.db();
        let users = console::search_users(
            db,
            bank.as_str(),
            &query,
            after,
            limit.clamp(1, MAX_USER_PAGE),
        )
        .await?;
        let mut rows = Vec::with_capacity(users.len());
        for user in users {
            let latest = bindings::find_latest_binding(
                db,
                self.core.account_mac().await?,
                bank.as_str(),
                &user.id,
            )
            .await?;
            rows.push(CustomerRow {
                token_state: latest.as_ref().map(|b| b.state),
                credential_id: latest.map(|b| b.credential_id),
                user: user.into(),
            });
        }
        Ok(rows)
    }

    /// Everything about one user at the bank.
    pub async fn detail(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
        user_id: &str,
    ) -> Result<CustomerDetail, ServiceError> {
        let bank = caller.bank(bank_id)?;
        let as_bank = crate::core::BankCaller::operator(bank.clone(), &caller.login, "view");
        let user = self.core.bank_user(&as_bank, user_id).await?;
        let db = self.core.db();
        let now = self.core.now();
        let mut bindings_here = Vec::new();
        for binding in console::bindings_of_user(db, bank.as_str(), &user.id).await? {
            let credential = credentials::find_credential(db, &binding.credential_id).await?;
            bindings_here.push(TokenBinding {
                drift_steps: credential.as_ref().map_or(0, |c| c.drift_steps),
                credential_suspended: credential.is_some_and(|c| c.suspended_at.is_some()),
                id: binding.id,
                credential_id: binding.credential_id,
                state: binding.state,
                failures: binding.failures,
                last_success_at: binding.last_success_at,
                created_at: binding.created_at,
            });
        }
        let open_logins = console::open_logins_of_user(db, bank.as_str(), &user.id, now)
            .await?
            .into_iter()
            .map(|login| OpenLogin {
                id: login.id,
                step: login.stage,
                expires_at: login.expires_at,
            })
            .collect();
        let open_issue = issues::find_open_issue(db, bank.as_str(), &user.id)
            .await?
            .filter(|issue| issue.state == IssueState::Activated || issue.expires_at > now)
            .map(|issue| OpenIssue {
                state: issue.state,
                mail_address: issue.mail_address,
                expires_at: issue.expires_at,
            });
        self.core.seal_audit(bank.as_str()).await?;
        let recent_audit = console::audit_page(
            db,
            bank.as_str(),
            &console::AuditQuery {
                user_id: Some(user.id.clone()),
                ..console::AuditQuery::default()
            },
            None,
            20,
        )
        .await?
        .into_iter()
        .map(AuditRecord::from)
        .collect();
        Ok(CustomerDetail {
            status: crate::status::otp_status(&self.core, &as_bank, &user.id).await?,
            pending_approvals: self.push.pending_of_user(&as_bank, &user.id).await?,
            password_failures: user.password_failures,
            password_changed_at: user.password_changed_at,
            user: user.into(),
            bindings: bindings_here,
            open_logins,
            open_issue,
            recent_audit,
        })
    }

    /// ロック解除 of the user's token.
    pub async fn unlock_token(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        user_id: &str,
        reason: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let at_bank = caller.helping(bank_id, reason)?;
        self.desk.unlock_credential(&at_bank, meta, user_id).await
    }

    /// 失効 of the user's token.
    pub async fn revoke_token(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        user_id: &str,
        reason: &str,
    ) -> Result<OtpStatus, ServiceError> {
        let at_bank = caller.helping(bank_id, reason)?;
        self.desk.revoke_credential(&at_bank, meta, user_id).await
    }

    /// ロック解除 of the user's login password.
    pub async fn unlock_password(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        user_id: &str,
        reason: &str,
    ) -> Result<(), ServiceError> {
        let at_bank = caller.helping(bank_id, reason)?;
        self.desk.unlock_user(&at_bank, meta, user_id).await
    }

    /// A temporary login password (shown once), to be changed at the next login.
    pub async fn reset_password(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        user_id: &str,
        reason: &str,
    ) -> Result<String, ServiceError> {
        let at_bank = caller.helping(bank_id, reason)?;
        self.desk.reset_password(&at_bank, meta, user_id).await
    }

    /// Cancels one of the user's pending push approvals.
    pub async fn cancel_approval(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        approval_id: &str,
        reason: &str,
    ) -> Result<PushApprovalView, ServiceError> {
        let at_bank = caller.helping(bank_id, reason)?;
        self.push
            .cancel_push_approval(&at_bank, meta, approval_id)
            .await
    }

    /// Sends the user's activation mail again.
    pub async fn resend_activation_mail(
        &self,
        caller: &OperatorCaller,
        meta: &RequestMeta,
        bank_id: &str,
        user_id: &str,
        reason: &str,
    ) -> Result<IssuedToken, ServiceError> {
        let at_bank = caller.helping(bank_id, reason)?;
        self.self_issue
            .resend_activation_mail(&at_bank, meta, user_id)
            .await
    }
}

/// A credential as the console shows it: where it is registered (the banks the operator may
/// see) and its platform-wide state.
#[derive(Debug, Clone)]
pub struct CredentialView {
    /// The credential ID.
    pub credential_id: String,
    /// TOTP or HOTP.
    pub kind: mamori_domain::CredentialKind,
    /// Consecutive wrong codes across all banks.
    pub failures: i32,
    /// When suspended on the whole platform.
    pub suspended_at: Option<DateTime<Utc>>,
    /// When provisioned or imported.
    pub created_at: DateTime<Utc>,
    /// Its registrations at the banks the operator may see.
    pub registrations: Vec<Registration>,
}

/// One registration of a credential.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The bank.
    pub bank_id: String,
    /// The bank's user.
    pub user_id: String,
    /// The state there.
    pub state: BindingState,
    /// Wrong codes there.
    pub failures: i32,
    /// Registered when.
    pub created_at: DateTime<Utc>,
}

impl CustomerDesk {
    /// A credential and its registrations (a bank operator sees only its own bank's).
    pub async fn credential(
        &self,
        caller: &OperatorCaller,
        credential_id: &str,
    ) -> Result<CredentialView, ServiceError> {
        caller.require_active()?;
        let db = self.core.db();
        let name = TypedCredentialId::parse(credential_id)
            .map_err(|_| ServiceError::rejected(ErrorCode::CredentialIdMalformed))?;
        let id = name.as_str();
        let Some(credential) = credentials::find_credential(db, id).await? else {
            return Err(ServiceError::rejected(ErrorCode::NotFound));
        };
        let registrations: Vec<Registration> = bindings::all_bindings_of_credential(db, id)
            .await?
            .into_iter()
            .filter(|b| {
                TenantId::parse(&b.tenant_id).is_ok_and(|bank| caller.scope.sees_bank(&bank))
            })
            .map(|b| Registration {
                bank_id: b.tenant_id,
                user_id: b.user_id,
                state: b.state,
                failures: b.failures,
                created_at: b.created_at,
            })
            .collect();
        // A bank's operator learns nothing of a credential never registered at their bank.
        if !caller.scope.sees_platform() && registrations.is_empty() {
            return Err(ServiceError::rejected(ErrorCode::NotFound));
        }
        Ok(CredentialView {
            credential_id: credential.id,
            kind: credential.kind,
            failures: credential.failures,
            suspended_at: credential.suspended_at,
            created_at: credential.created_at,
            registrations,
        })
    }
}
