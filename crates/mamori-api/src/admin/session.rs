//! Signing in and out of the admin console, the first login's setup (own password, then the
//! authenticator app), and the operators themselves.

use mamori_domain::{OperatorRole, SessionStage};
use mamori_service::{NewOperator, OperatorCaller, OperatorView, ServiceError, TotpEnrollment};
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::admin::{AdminSession, AdminTags, ReasonRequest, SESSION_COOKIE, meta};
use crate::context::RequestContext;
use crate::errors::{
    ChangeOwnPasswordProblem, ConfirmTotpEnrollmentProblem, CreateAdminSessionProblem,
    CreateOperatorProblem, DeleteAdminSessionProblem, GetAdminSessionProblem, ListOperatorsProblem,
    StartTotpEnrollmentProblem, UnlockOperatorProblem,
};
use crate::state::AppState;
use crate::strict::StrictString;
use crate::timestamp::Timestamp;

/// The admin console's session and operators.
#[derive(Debug)]
pub struct AdminSessionApi {
    state: AppState,
}

impl AdminSessionApi {
    /// Over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// An operator's role.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum RoleDto {
    /// All banks, every action.
    PlatformAdmin,
    /// One bank's support desk.
    BankOperator,
    /// Read-only, all banks or one.
    Auditor,
}

impl From<OperatorRole> for RoleDto {
    fn from(role: OperatorRole) -> Self {
        match role {
            OperatorRole::PlatformAdmin => Self::PlatformAdmin,
            OperatorRole::BankOperator => Self::BankOperator,
            OperatorRole::Auditor => Self::Auditor,
        }
    }
}

impl From<RoleDto> for OperatorRole {
    fn from(role: RoleDto) -> Self {
        match role {
            RoleDto::PlatformAdmin => Self::PlatformAdmin,
            RoleDto::BankOperator => Self::BankOperator,
            RoleDto::Auditor => Self::Auditor,
        }
    }
}

/// An operator.
#[derive(Debug, Object)]
pub(crate) struct OperatorDto {
    /// `opr_…`.
    id: String,
    /// The login name.
    login_name: String,
    /// The name shown.
    display_name: String,
    /// The role.
    role: RoleDto,
    /// The one bank of a bank operator or of an auditor limited to one bank.
    #[oai(skip_serializing_if_is_none)]
    bank_id: Option<String>,
    /// The authenticator app is enrolled.
    totp_enrolled: bool,
    /// The next sign-in must replace the password (a one-time password).
    password_must_change: bool,
    /// Locked after too many wrong passwords or codes (a platform admin unlocks).
    #[oai(skip_serializing_if_is_none)]
    locked_at: Option<Timestamp>,
    /// When created.
    created_at: Timestamp,
}

impl From<OperatorView> for OperatorDto {
    fn from(v: OperatorView) -> Self {
        Self {
            id: v.id,
            login_name: v.login_name,
            display_name: v.display_name,
            role: v.role.into(),
            bank_id: v.bank_id,
            totp_enrolled: v.totp_enrolled,
            password_must_change: v.password_must_change,
            locked_at: v.locked_at.map(Timestamp),
            created_at: v.created_at.into(),
        }
    }
}

/// The stage of a session.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum StageDto {
    /// First login: replace the one-time password, then enroll the authenticator app.
    Setup,
    /// Signed in with password and code.
    Active,
}

impl From<SessionStage> for StageDto {
    fn from(stage: SessionStage) -> Self {
        match stage {
            SessionStage::Setup => Self::Setup,
            SessionStage::Active => Self::Active,
        }
    }
}

/// The signed-in operator and what the console needs to act for them.
#[derive(Debug, Object)]
pub(crate) struct AdminSessionDto {
    /// The operator.
    operator: OperatorDto,
    /// `setup` until the one-time password is replaced and the authenticator app enrolled.
    stage: StageDto,
    /// Send this in `X-CSRF-Token` with every state-changing request.
    csrf_token: String,
}

/// Sign in with login name, password and the authenticator's code.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct SignInRequest {
    /// 運用担当者ID.
    login_name: StrictString,
    /// The password (the one-time password at the first sign-in).
    #[oai(write_only)]
    password: StrictString,
    /// The authenticator app's current code; not needed before it is enrolled.
    code: Option<StrictString>,
}

/// A new password for the signed-in operator.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ChangeOwnPasswordRequest {
    /// The current (or one-time) password.
    #[oai(write_only)]
    current_password: StrictString,
    /// At least 12 characters, letters and digits, printable ASCII.
    #[oai(write_only)]
    new_password: StrictString,
}

/// The authenticator app to enroll.
#[derive(Debug, Object)]
struct TotpEnrollmentDto {
    /// The secret (base32), for typing when scanning is impossible.
    secret: String,
    /// The `otpauth://` URI the QR code carries.
    otpauth_uri: String,
    /// The QR code, SVG.
    qr_svg: String,
}

impl From<TotpEnrollment> for TotpEnrollmentDto {
    fn from(e: TotpEnrollment) -> Self {
        Self {
            secret: e.secret_base32,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
        }
    }
}

/// A code of the authenticator app being enrolled.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CodeRequest {
    /// The app's current 6-digit code.
    code: StrictString,
}

/// A new operator.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CreateOperatorRequest {
    /// Login name (3–40 of `a-z 0-9 . _ -`).
    login_name: StrictString,
    /// The name shown (1–100 characters).
    display_name: StrictString,
    /// The role.
    role: RoleDto,
    /// The bank of a bank operator (required) or of an auditor limited to one bank.
    bank_id: Option<StrictString>,
}

/// An operator just created and their one-time password, shown only now.
#[derive(Debug, Object)]
struct CreatedOperatorDto {
    /// The operator.
    operator: OperatorDto,
    /// Hand it over once; the first sign-in replaces it.
    one_time_password: String,
}

/// Operators.
#[derive(Debug, Object)]
struct OperatorList {
    /// Every operator, by login name.
    items: Vec<OperatorDto>,
}

#[derive(ApiResponse)]
enum SessionResponse {
    /// Signed in; the session cookie is set.
    #[oai(status = 200)]
    Ok(Json<AdminSessionDto>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum CurrentSessionResponse {
    /// The session: the operator, its stage and its anti-forgery token.
    #[oai(status = 200)]
    Ok(Json<AdminSessionDto>),
}

#[derive(ApiResponse)]
enum OwnPasswordChangedResponse {
    /// The password is changed. The session now (`active` once the authenticator app is
    /// enrolled too).
    #[oai(status = 200)]
    Ok(Json<AdminSessionDto>),
}

#[derive(ApiResponse)]
enum EnrolledResponse {
    /// The authenticator app is enrolled. The session now, `active`.
    #[oai(status = 200)]
    Ok(Json<AdminSessionDto>),
}

#[derive(ApiResponse)]
enum SignedOutResponse {
    /// Signed out on every node; the cookie is cleared.
    #[oai(status = 204)]
    NoContent(#[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum EnrollmentResponse {
    /// Scan this with the authenticator app, then confirm with a code.
    #[oai(status = 200)]
    Ok(Json<TotpEnrollmentDto>),
}

#[derive(ApiResponse)]
enum OperatorListResponse {
    /// Every operator, by login name.
    #[oai(status = 200)]
    Ok(Json<OperatorList>),
}

#[derive(ApiResponse)]
enum CreatedOperatorResponse {
    /// The operator is created; the one-time password is shown only now.
    #[oai(status = 201)]
    Created(Json<CreatedOperatorDto>),
}

#[derive(ApiResponse)]
enum OperatorResponse {
    /// The operator, unlocked.
    #[oai(status = 200)]
    Ok(Json<OperatorDto>),
}

/// The `Set-Cookie` value of a session: `HttpOnly` (no script reads it), `SameSite=Strict` (no
/// other site sends it), `Secure` unless the console is reached on a loopback address over
/// plain HTTP (the embedded default), where a browser would drop a `Secure` cookie.
fn session_cookie(req: &Request, token: &str, max_age: Option<u32>) -> String {
    let host = req.header("host").unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let loopback = matches!(name, "127.0.0.1" | "localhost" | "[::1]");
    let secure = if loopback { "" } else { "; Secure" };
    let age = max_age.map_or(String::new(), |age| format!("; Max-Age={age}"));
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}{age}")
}

impl AdminSessionApi {
    async fn session_dto(&self, caller: &OperatorCaller) -> Result<AdminSessionDto, ServiceError> {
        let operators = &self.state.services.operators;
        Ok(AdminSessionDto {
            operator: operators.me(caller).await?.into(),
            stage: caller.stage.into(),
            csrf_token: operators.csrf_token(&caller.session_id).await?,
        })
    }
}

#[OpenApi(tag = "AdminTags::Admin")]
impl AdminSessionApi {
    /// Sign in to the admin console
    ///
    /// Login name, password and the authenticator's current code. An unknown operator, a
    /// wrong password or code and a locked operator all answer `admin_login_failed` (401).
    /// Five wrong passwords or codes in a row lock the operator until a platform admin
    /// unlocks them. At the first sign-in (a one-time password, no authenticator yet) the
    /// session is in stage `setup`: replace the password, then enroll the app.
    #[oai(
        path = "/v1/admin/session",
        method = "post",
        operation_id = "createAdminSession"
    )]
    async fn create_session(
        &self,
        ctx: RequestContext,
        req: &Request,
        body: Json<SignInRequest>,
    ) -> Result<SessionResponse, CreateAdminSessionProblem> {
        let operators = &self.state.services.operators;
        let signed_in = operators
            .sign_in(
                &meta(&ctx),
                &body.login_name,
                &body.password,
                body.code.as_deref(),
            )
            .await
            .map_err(|e| CreateAdminSessionProblem::from_error(&e, &ctx))?;
        let cookie = session_cookie(req, &signed_in.session_token, None);
        self.session_dto(&signed_in.caller)
            .await
            .map(|dto| SessionResponse::Ok(Json(dto), cookie))
            .map_err(|e| CreateAdminSessionProblem::from_error(&e, &ctx))
    }

    /// The current admin session
    ///
    /// The signed-in operator, the session's stage and its anti-forgery token (also after a
    /// page reload). Errors: `admin_session_required` (401).
    #[oai(
        path = "/v1/admin/session",
        method = "get",
        operation_id = "getAdminSession"
    )]
    async fn get_session(
        &self,
        ctx: RequestContext,
        session: AdminSession,
    ) -> Result<CurrentSessionResponse, GetAdminSessionProblem> {
        self.session_dto(&session.0)
            .await
            .map(|dto| CurrentSessionResponse::Ok(Json(dto)))
            .map_err(|e| GetAdminSessionProblem::from_error(&e, &ctx))
    }

    /// Sign out of the admin console
    ///
    /// Ends the session on every node at once and clears the cookie.
    #[oai(
        path = "/v1/admin/session",
        method = "delete",
        operation_id = "deleteAdminSession"
    )]
    async fn delete_session(
        &self,
        ctx: RequestContext,
        req: &Request,
        session: AdminSession,
    ) -> Result<SignedOutResponse, DeleteAdminSessionProblem> {
        self.state
            .services
            .operators
            .sign_out(&session.0, &meta(&ctx))
            .await
            .map(|()| SignedOutResponse::NoContent(session_cookie(req, "", Some(0))))
            .map_err(|e| DeleteAdminSessionProblem::from_error(&e, &ctx))
    }

    /// Change one's own password
    ///
    /// The current (or one-time) password and a new one: at least 12 characters, letters and
    /// digits, printable ASCII (NIST SP 800-63B; no expiry). Errors: `admin_login_failed`
    /// (401, wrong current password; counted), `password_rejected` (422, with `violations`).
    #[oai(
        path = "/v1/admin/session/password",
        method = "post",
        operation_id = "changeOwnPassword"
    )]
    async fn change_own_password(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        body: Json<ChangeOwnPasswordRequest>,
    ) -> Result<OwnPasswordChangedResponse, ChangeOwnPasswordProblem> {
        let run = async {
            let operators = &self.state.services.operators;
            let caller = &session.0;
            operators
                .change_password(
                    caller,
                    &meta(&ctx),
                    &body.current_password,
                    &body.new_password,
                )
                .await?;
            // The stage may have moved on; read the session again.
            let caller = OperatorCaller {
                stage: if caller.stage == SessionStage::Setup
                    && operators.me(caller).await?.totp_enrolled
                {
                    SessionStage::Active
                } else {
                    caller.stage
                },
                ..caller.clone()
            };
            self.session_dto(&caller).await
        };
        run.await
            .map(|dto| OwnPasswordChangedResponse::Ok(Json(dto)))
            .map_err(|e| ChangeOwnPasswordProblem::from_error(&e, &ctx))
    }

    /// Start enrolling the authenticator app
    ///
    /// A new TOTP secret as a QR code (and its text) for the operator's authenticator app.
    /// Allowed once the one-time password is replaced; confirm with `confirmTotpEnrollment`.
    #[oai(
        path = "/v1/admin/session/totp",
        method = "post",
        operation_id = "startTotpEnrollment"
    )]
    async fn start_enrollment(
        &self,
        ctx: RequestContext,
        session: AdminSession,
    ) -> Result<EnrollmentResponse, StartTotpEnrollmentProblem> {
        self.state
            .services
            .operators
            .begin_enrollment(&session.0)
            .await
            .map(|e| EnrollmentResponse::Ok(Json(e.into())))
            .map_err(|e| StartTotpEnrollmentProblem::from_error(&e, &ctx))
    }

    /// Confirm the authenticator app
    ///
    /// A current code of the app being enrolled; the session becomes active. Errors:
    /// `otp_invalid` (422), `otp_malformed` (400).
    #[oai(
        path = "/v1/admin/session/totp/confirm",
        method = "post",
        operation_id = "confirmTotpEnrollment"
    )]
    async fn confirm_enrollment(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        body: Json<CodeRequest>,
    ) -> Result<EnrolledResponse, ConfirmTotpEnrollmentProblem> {
        let run = async {
            let caller = &session.0;
            self.state
                .services
                .operators
                .confirm_enrollment(caller, &meta(&ctx), &body.code)
                .await?;
            let active = OperatorCaller {
                stage: SessionStage::Active,
                ..caller.clone()
            };
            self.session_dto(&active).await
        };
        run.await
            .map(|dto| EnrolledResponse::Ok(Json(dto)))
            .map_err(|e| ConfirmTotpEnrollmentProblem::from_error(&e, &ctx))
    }

    /// List operators
    ///
    /// Platform admins only.
    #[oai(
        path = "/v1/admin/operators",
        method = "get",
        operation_id = "listOperators"
    )]
    async fn list_operators(
        &self,
        ctx: RequestContext,
        session: AdminSession,
    ) -> Result<OperatorListResponse, ListOperatorsProblem> {
        self.state
            .services
            .operators
            .list(&session.0)
            .await
            .map(|ops| {
                OperatorListResponse::Ok(Json(OperatorList {
                    items: ops.into_iter().map(OperatorDto::from).collect(),
                }))
            })
            .map_err(|e| ListOperatorsProblem::from_error(&e, &ctx))
    }

    /// Create an operator
    ///
    /// Platform admins only. The one-time password is in the answer and nowhere else; the
    /// operator replaces it at the first sign-in. Errors: `operator_already_exists` (409).
    #[oai(
        path = "/v1/admin/operators",
        method = "post",
        operation_id = "createOperator"
    )]
    async fn create_operator(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        body: Json<CreateOperatorRequest>,
    ) -> Result<CreatedOperatorResponse, CreateOperatorProblem> {
        let body = body.0;
        self.state
            .services
            .operators
            .create(
                &session.0,
                &meta(&ctx),
                NewOperator {
                    login_name: body.login_name.0,
                    display_name: body.display_name.0,
                    role: body.role.into(),
                    bank_id: body.bank_id.map(|b| b.0),
                },
            )
            .await
            .map(|created| {
                CreatedOperatorResponse::Created(Json(CreatedOperatorDto {
                    operator: created.operator.into(),
                    one_time_password: created.one_time_password,
                }))
            })
            .map_err(|e| CreateOperatorProblem::from_error(&e, &ctx))
    }

    /// Unlock an operator
    ///
    /// Platform admins only; the reason goes into the platform's audit trail.
    #[oai(
        path = "/v1/admin/operators/:operator_id/unlock",
        method = "post",
        operation_id = "unlockOperator"
    )]
    async fn unlock_operator(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// The operator's ID (`opr_…`).
        operator_id: Path<String>,
        body: Json<ReasonRequest>,
    ) -> Result<OperatorResponse, UnlockOperatorProblem> {
        self.state
            .services
            .operators
            .unlock(&session.0, &meta(&ctx), &operator_id, &body.reason)
            .await
            .map(|op| OperatorResponse::Ok(Json(op.into())))
            .map_err(|e| UnlockOperatorProblem::from_error(&e, &ctx))
    }
}
