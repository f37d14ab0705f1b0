//! The help desk in the admin console: find a bank's customer, see everything about them at
//! the bank, and act with a reason; a credential's registrations and its platform suspension.

use mamori_domain::{BindingState, IssueState};
use mamori_service::{CredentialView, CustomerDetail, CustomerRow, CustomerSearch};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::admin::trails::AdminAuditEventDto;
use crate::admin::{AdminSession, AdminTags, ReasonRequest, meta};
use crate::bank::OtpStatusDto;
use crate::context::RequestContext;
use crate::errors::{
    CancelCustomerPushApprovalProblem, GetCredentialProblem, GetCustomerProblem,
    LiftCredentialSuspensionProblem, ResendActivationMailProblem, ResetCustomerPasswordProblem,
    RevokeCustomerTokenProblem, SearchCustomersProblem, UnlockCustomerPasswordProblem,
    UnlockCustomerTokenProblem,
};
use crate::login::NextStepDto;
use crate::state::AppState;
use crate::timestamp::Timestamp;

/// The help desk.
#[derive(Debug)]
pub struct AdminCustomersApi {
    state: AppState,
}

impl AdminCustomersApi {
    /// Over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// A token's state at a bank.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum TokenStateDto {
    /// 利用中.
    Active,
    /// ロック中 after too many wrong codes.
    Locked,
    /// 利用停止 by the customer.
    Stopped,
    /// Replaced in a device change (機種変更).
    Replaced,
    /// 失効.
    Revoked,
    /// 利用解除 by the bank.
    Released,
}

impl From<BindingState> for TokenStateDto {
    fn from(s: BindingState) -> Self {
        match s {
            BindingState::Active => Self::Active,
            BindingState::Locked => Self::Locked,
            BindingState::Stopped => Self::Stopped,
            BindingState::Replaced => Self::Replaced,
            BindingState::Revoked => Self::Revoked,
            BindingState::Released => Self::Released,
        }
    }
}

/// A customer in a search result.
#[derive(Debug, Object)]
struct CustomerRowDto {
    /// Mamori's user ID (`usr_…`).
    id: String,
    /// 契約者番号.
    contract_number: String,
    /// 利用者ID.
    #[oai(skip_serializing_if_is_none)]
    user_id: Option<String>,
    /// The bank's name for the customer.
    display_name: String,
    /// The login password is locked.
    password_locked: bool,
    /// The state of their latest token here.
    #[oai(skip_serializing_if_is_none)]
    token_state: Option<TokenStateDto>,
    /// Their latest token here.
    #[oai(skip_serializing_if_is_none)]
    credential_id: Option<String>,
}

impl From<CustomerRow> for CustomerRowDto {
    fn from(r: CustomerRow) -> Self {
        Self {
            id: r.user.id,
            contract_number: r.user.contract_number,
            user_id: r.user.user_code,
            display_name: r.user.display_name,
            password_locked: r.user.password_locked,
            token_state: r.token_state.map(TokenStateDto::from),
            credential_id: r.credential_id,
        }
    }
}

/// A page of customers.
#[derive(Debug, Object)]
struct CustomerPage {
    /// The customers, by Mamori ID.
    items: Vec<CustomerRowDto>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[oai(skip_serializing_if_is_none)]
    next_cursor: Option<String>,
}

/// One of the customer's tokens at the bank.
#[derive(Debug, Object)]
struct TokenBindingDto {
    /// The registration's ID.
    id: String,
    /// The credential.
    credential_id: String,
    /// Its state here.
    state: TokenStateDto,
    /// Consecutive wrong codes here.
    failures: i32,
    /// The last accepted code here.
    #[oai(skip_serializing_if_is_none)]
    last_success_at: Option<Timestamp>,
    /// When registered.
    created_at: Timestamp,
    /// How far the token's clock is off, in 30-second steps (learned by 同期ズレ補正).
    drift_steps: i64,
    /// Suspended on the whole platform after too many wrong codes across banks.
    credential_suspended: bool,
}

/// A login in progress.
#[derive(Debug, Object)]
struct OpenLoginDto {
    /// The login ID.
    id: String,
    /// What it waits for.
    step: NextStepDto,
    /// Until when.
    expires_at: Timestamp,
}

/// A token issued by mail, not yet in use.
#[derive(Debug, Object)]
struct OpenIssueDto {
    /// `issued` (mailed) or `activated` (the app has it; the customer starts use next).
    state: String,
    /// Where the activation mail went.
    mail_address: String,
    /// Until when the app can activate it.
    expires_at: Timestamp,
}

/// A push approval waiting for the phone.
#[derive(Debug, Object)]
struct AdminPendingApprovalDto {
    /// `pa_…`.
    approval_id: String,
    /// SHA-256 of the transaction.
    transaction_hash: String,
    /// When the bank asked.
    created_at: Timestamp,
    /// When no answer cancels it.
    expires_at: Timestamp,
}

/// Everything about a customer at the bank, never a secret.
#[derive(Debug, Object)]
struct CustomerDetailDto {
    /// Mamori's user ID.
    id: String,
    /// 契約者番号.
    contract_number: String,
    /// 利用者ID.
    #[oai(skip_serializing_if_is_none)]
    user_id: Option<String>,
    /// The bank's name for the customer.
    display_name: String,
    /// When the bank created the user.
    created_at: Timestamp,
    /// Mamori keeps a login password for them.
    password_set: bool,
    /// The login password is locked.
    password_locked: bool,
    /// The next login must change the password.
    password_must_change: bool,
    /// Consecutive wrong passwords.
    password_failures: i32,
    /// When the password was last set.
    #[oai(skip_serializing_if_is_none)]
    password_changed_at: Option<Timestamp>,
    /// Their OTP status here.
    otp: OtpStatusDto,
    /// Their tokens here, newest first.
    tokens: Vec<TokenBindingDto>,
    /// Logins in progress.
    open_logins: Vec<OpenLoginDto>,
    /// A token issued by mail, not yet started.
    #[oai(skip_serializing_if_is_none)]
    open_issue: Option<OpenIssueDto>,
    /// Push approvals waiting for the phone.
    pending_approvals: Vec<AdminPendingApprovalDto>,
    /// Their latest 20 entries in the bank's audit trail.
    recent_audit: Vec<AdminAuditEventDto>,
}

impl From<CustomerDetail> for CustomerDetailDto {
    fn from(d: CustomerDetail) -> Self {
        Self {
            id: d.user.id,
            contract_number: d.user.contract_number,
            user_id: d.user.user_code,
            display_name: d.user.display_name,
            created_at: d.user.created_at.into(),
            password_set: d.user.password_set,
            password_locked: d.user.password_locked,
            password_must_change: d.user.password_must_change,
            password_failures: d.password_failures,
            password_changed_at: d.password_changed_at.map(Timestamp),
            otp: d.status.into(),
            tokens: d
                .bindings
                .into_iter()
                .map(|b| TokenBindingDto {
                    id: b.id,
                    credential_id: b.credential_id,
                    state: b.state.into(),
                    failures: b.failures,
                    last_success_at: b.last_success_at.map(Timestamp),
                    created_at: b.created_at.into(),
                    drift_steps: b.drift_steps,
                    credential_suspended: b.credential_suspended,
                })
                .collect(),
            open_logins: d
                .open_logins
                .into_iter()
                .map(|l| OpenLoginDto {
                    id: l.id,
                    step: l.step.into(),
                    expires_at: l.expires_at.into(),
                })
                .collect(),
            open_issue: d.open_issue.map(|i| OpenIssueDto {
                state: match i.state {
                    IssueState::Activated => "activated",
                    _ => "issued",
                }
                .into(),
                mail_address: i.mail_address,
                expires_at: i.expires_at.into(),
            }),
            pending_approvals: d
                .pending_approvals
                .into_iter()
                .map(|a| AdminPendingApprovalDto {
                    approval_id: a.approval_id,
                    transaction_hash: a.transaction_hash,
                    created_at: a.created_at.into(),
                    expires_at: a.expires_at.into(),
                })
                .collect(),
            recent_audit: d
                .recent_audit
                .into_iter()
                .map(AdminAuditEventDto::from)
                .collect(),
        }
    }
}

/// A temporary password, shown once.
#[derive(Debug, Object)]
struct AdminTemporaryPasswordDto {
    /// Read it to the customer; the next login must change it (where the bank's policy says
    /// so). Shown only now.
    temporary_password: String,
}

/// A resent activation mail.
#[derive(Debug, Object)]
struct ResentMailDto {
    /// The new outbox mail.
    mail_id: String,
    /// Where it goes.
    mail_address: String,
    /// Until when the app can activate the token.
    expires_at: Timestamp,
}

/// A credential's registrations at one bank.
#[derive(Debug, Object)]
struct RegistrationDto {
    /// The bank.
    bank_id: String,
    /// The bank's user.
    user_id: String,
    /// The state there.
    state: TokenStateDto,
    /// Wrong codes there.
    failures: i32,
    /// When registered.
    created_at: Timestamp,
}

/// A credential (トークン).
#[derive(Debug, Object)]
struct CredentialDto {
    /// The credential ID.
    credential_id: String,
    /// `totp` or `hotp`.
    kind: String,
    /// Consecutive wrong codes across all banks (100 suspend it everywhere).
    failures: i32,
    /// When it was suspended on the whole platform.
    #[oai(skip_serializing_if_is_none)]
    suspended_at: Option<Timestamp>,
    /// When provisioned or imported.
    created_at: Timestamp,
    /// Its registrations at the banks this operator may see.
    registrations: Vec<RegistrationDto>,
}

impl From<CredentialView> for CredentialDto {
    fn from(c: CredentialView) -> Self {
        Self {
            credential_id: c.credential_id,
            kind: c.kind.as_str().into(),
            failures: c.failures,
            suspended_at: c.suspended_at.map(Timestamp),
            created_at: c.created_at.into(),
            registrations: c
                .registrations
                .into_iter()
                .map(|r| RegistrationDto {
                    bank_id: r.bank_id,
                    user_id: r.user_id,
                    state: r.state.into(),
                    failures: r.failures,
                    created_at: r.created_at.into(),
                })
                .collect(),
        }
    }
}

#[derive(ApiResponse)]
enum CustomerPageResponse {
    /// A page of the bank's customers, by Mamori ID.
    #[oai(status = 200)]
    Ok(Json<CustomerPage>),
}

#[derive(ApiResponse)]
enum CustomerResponse {
    /// The customer.
    #[oai(status = 200)]
    Ok(Json<CustomerDetailDto>),
}

#[derive(ApiResponse)]
enum TokenUnlockedResponse {
    /// The token is unlocked and its failures at the bank cleared. The customer's OTP status
    /// now.
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum TokenRevokedResponse {
    /// The token is revoked at the bank. The customer's OTP status now (`revoked`).
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum PasswordUnlockedResponse {
    /// The password lock is lifted and the failure count cleared.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum ApprovalCancelledResponse {
    /// The approval is cancelled; the bank hears of it by webhook.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum TemporaryPasswordResponse {
    /// The temporary password, shown only now; the password lock is lifted.
    #[oai(status = 200)]
    Ok(Json<AdminTemporaryPasswordDto>),
}

#[derive(ApiResponse)]
enum ResentResponse {
    /// The mail is in the outbox (and sent, with SMTP).
    #[oai(status = 200)]
    Ok(Json<ResentMailDto>),
}

#[derive(ApiResponse)]
enum CredentialResponse {
    /// The credential and its registrations at the banks this operator may see.
    #[oai(status = 200)]
    Ok(Json<CredentialDto>),
}

#[derive(ApiResponse)]
enum SuspensionLiftedResponse {
    /// The suspension is lifted: the credential and its registrations now.
    #[oai(status = 200)]
    Ok(Json<CredentialDto>),
}

#[OpenApi(tag = "AdminTags::Admin")]
impl AdminCustomersApi {
    /// Find a bank's customers
    ///
    /// By 契約者番号, 利用者ID or クレデンシャルID (exact; full-width characters and spaces are
    /// folded), or all of them, in pages of up to 100 by Mamori ID.
    #[oai(
        path = "/v1/admin/banks/:bank_id/users",
        method = "get",
        operation_id = "searchCustomers"
    )]
    #[expect(clippy::too_many_arguments, reason = "one parameter per search field")]
    async fn search(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// 契約者番号.
        contract_number: Query<Option<String>>,
        /// 利用者ID.
        user_id: Query<Option<String>>,
        /// クレデンシャルID.
        credential_id: Query<Option<String>>,
        /// The previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Customers per page, 1–100.
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<CustomerPageResponse, SearchCustomersProblem> {
        let search = CustomerSearch {
            contract_number: contract_number.0,
            user_id: user_id.0,
            credential_id: credential_id.0,
        };
        self.state
            .services
            .customer_desk
            .search(&session.0, &bank_id, &search, cursor.0.as_deref(), limit.0)
            .await
            .map(|rows| {
                let next_cursor = (rows.len() as u64 == limit.0)
                    .then(|| rows.last().map(|r| r.user.id.clone()))
                    .flatten();
                CustomerPageResponse::Ok(Json(CustomerPage {
                    items: rows.into_iter().map(CustomerRowDto::from).collect(),
                    next_cursor,
                }))
            })
            .map_err(|e| SearchCustomersProblem::from_error(&e, &ctx))
    }

    /// A customer at a bank
    ///
    /// Password status, tokens (state, failures, last use, drift), logins in progress, a
    /// token issued by mail, pending push approvals, the latest audit entries — never a
    /// secret.
    #[oai(
        path = "/v1/admin/banks/:bank_id/users/:user_id",
        method = "get",
        operation_id = "getCustomer"
    )]
    async fn detail(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// Mamori's user ID (`usr_…`).
        user_id: Path<String>,
    ) -> Result<CustomerResponse, GetCustomerProblem> {
        self.state
            .services
            .customer_desk
            .detail(&session.0, &bank_id, &user_id)
            .await
            .map(|d| CustomerResponse::Ok(Json(d.into())))
            .map_err(|e| GetCustomerProblem::from_error(&e, &ctx))
    }

    /// Unlock a customer's token (ロック解除)
    ///
    /// Platform admins and the bank's operators; the reason goes into the bank's trail. A
    /// token suspended on the whole platform (status `suspended`) is refused with
    /// `platform_operator_required` (423) and nothing changes: lift the suspension instead.
    #[oai(
        path = "/v1/admin/banks/:bank_id/users/:user_id/token/unlock",
        method = "post",
        operation_id = "unlockCustomerToken"
    )]
    async fn unlock_token(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// Mamori's user ID.
        user_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<TokenUnlockedResponse, UnlockCustomerTokenProblem> {
        self.state
            .services
            .customer_desk
            .unlock_token(&session.0, &meta(&ctx), &bank_id, &user_id, &body.reason)
            .await
            .map(|s| TokenUnlockedResponse::Ok(Json(s.into())))
            .map_err(|e| UnlockCustomerTokenProblem::from_error(&e, &ctx))
    }

    /// Revoke a customer's token (失効)
    ///
    /// A lost phone: the token stops working at this bank; the customer registers a new one.
    #[oai(
        path = "/v1/admin/banks/:bank_id/users/:user_id/token/revoke",
        method = "post",
        operation_id = "revokeCustomerToken"
    )]
    async fn revoke_token(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// Mamori's user ID.
        user_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<TokenRevokedResponse, RevokeCustomerTokenProblem> {
        self.state
            .services
            .customer_desk
            .revoke_token(&session.0, &meta(&ctx), &bank_id, &user_id, &body.reason)
            .await
            .map(|s| TokenRevokedResponse::Ok(Json(s.into())))
            .map_err(|e| RevokeCustomerTokenProblem::from_error(&e, &ctx))
    }

    /// Unlock a customer's login password
    #[oai(
        path = "/v1/admin/banks/:bank_id/users/:user_id/password/unlock",
        method = "post",
        operation_id = "unlockCustomerPassword"
    )]
    async fn unlock_password(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// Mamori's user ID.
        user_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<PasswordUnlockedResponse, UnlockCustomerPasswordProblem> {
        self.state
            .services
            .customer_desk
            .unlock_password(&session.0, &meta(&ctx), &bank_id, &user_id, &body.reason)
            .await
            .map(|()| PasswordUnlockedResponse::NoContent)
            .map_err(|e| UnlockCustomerPasswordProblem::from_error(&e, &ctx))
    }

    /// Reset a customer's login password
    ///
    /// A temporary password, shown only in this answer; the lock is lifted.
    #[oai(
        path = "/v1/admin/banks/:bank_id/users/:user_id/password/reset",
        method = "post",
        operation_id = "resetCustomerPassword"
    )]
    async fn reset_password(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// Mamori's user ID.
        user_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<TemporaryPasswordResponse, ResetCustomerPasswordProblem> {
        self.state
            .services
            .customer_desk
            .reset_password(&session.0, &meta(&ctx), &bank_id, &user_id, &body.reason)
            .await
            .map(|p| {
                TemporaryPasswordResponse::Ok(Json(AdminTemporaryPasswordDto {
                    temporary_password: p,
                }))
            })
            .map_err(|e| ResetCustomerPasswordProblem::from_error(&e, &ctx))
    }

    /// Send a customer's activation mail again (seed 003)
    ///
    /// The same service ID, user ID and deadline; the activation password stays the one the
    /// customer chose. Errors: `otp_not_registered` (404) when no issue is waiting.
    #[oai(
        path = "/v1/admin/banks/:bank_id/users/:user_id/activation-mail/resend",
        method = "post",
        operation_id = "resendActivationMail"
    )]
    async fn resend_mail(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// Mamori's user ID.
        user_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<ResentResponse, ResendActivationMailProblem> {
        self.state
            .services
            .customer_desk
            .resend_activation_mail(&session.0, &meta(&ctx), &bank_id, &user_id, &body.reason)
            .await
            .map(|i| {
                ResentResponse::Ok(Json(ResentMailDto {
                    mail_id: i.mail_id,
                    mail_address: i.mail_address,
                    expires_at: i.expires_at.into(),
                }))
            })
            .map_err(|e| ResendActivationMailProblem::from_error(&e, &ctx))
    }

    /// Cancel a pending push approval
    ///
    /// The transaction is cancelled; the bank hears of it by webhook. Errors:
    /// `push_already_answered` (409).
    #[oai(
        path = "/v1/admin/banks/:bank_id/push-approvals/:approval_id/cancel",
        method = "post",
        operation_id = "cancelCustomerPushApproval"
    )]
    async fn cancel_approval(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The bank's ID.
        bank_id: Path<String>,
        /// The approval's ID (`pa_…`).
        approval_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<ApprovalCancelledResponse, CancelCustomerPushApprovalProblem> {
        self.state
            .services
            .customer_desk
            .cancel_approval(
                &session.0,
                &meta(&ctx),
                &bank_id,
                &approval_id,
                &body.reason,
            )
            .await
            .map(|_| ApprovalCancelledResponse::NoContent)
            .map_err(|e| CancelCustomerPushApprovalProblem::from_error(&e, &ctx))
    }

    /// A credential and its registrations
    ///
    /// Platform-wide state (failures, suspension) and its registrations at the banks this
    /// operator may see; a bank's operator finds only credentials registered at their bank.
    #[oai(
        path = "/v1/admin/credentials/:credential_id",
        method = "get",
        operation_id = "getCredential"
    )]
    async fn credential(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The credential ID.
        credential_id: Path<String>,
    ) -> Result<CredentialResponse, GetCredentialProblem> {
        self.state
            .services
            .customer_desk
            .credential(&session.0, &credential_id)
            .await
            .map(|c| CredentialResponse::Ok(Json(c.into())))
            .map_err(|e| GetCredentialProblem::from_error(&e, &ctx))
    }

    /// Lift a credential's platform-wide suspension
    ///
    /// Platform admins only, once the owner is identified. Audited with the reason in the
    /// platform's trail and in the trail of every bank the token is registered at.
    #[oai(
        path = "/v1/admin/credentials/:credential_id/lift-suspension",
        method = "post",
        operation_id = "liftCredentialSuspension"
    )]
    async fn lift(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The credential ID.
        credential_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<SuspensionLiftedResponse, LiftCredentialSuspensionProblem> {
        let run = async {
            let caller = &session.0;
            caller.require_platform_admin()?;
            self.state
                .services
                .platform
                .lift_credential_suspension(
                    &caller.login,
                    &meta(&ctx),
                    &credential_id,
                    &body.reason,
                )
                .await?;
            self.state
                .services
                .customer_desk
                .credential(caller, &credential_id)
                .await
        };
        run.await
            .map(|c| SuspensionLiftedResponse::Ok(Json(c.into())))
            .map_err(|e| LiftCredentialSuspensionProblem::from_error(&e, &ctx))
    }
}

fn default_page() -> u64 {
    50
}
