//! The Bank API: what a bank's internet-banking system calls with its API key. Every route
//! carries the bank in its path and answers 404 for anything of another bank.

use mamori_domain::OtpUse;
use mamori_service::{
    AuditRecord, BankCaller, ChainStatus, OtpStatus, RequestMeta, ServiceError, User,
};
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, SecurityScheme, Tags};

use crate::context::RequestContext;
use crate::errors::{
    ChangeDeviceProblem, CreateUserProblem, CurrentCodeProblem, FindUserProblem,
    ListAuditEventsProblem, RegisterCredentialProblem, ResyncCredentialProblem,
    RevokeCredentialProblem, UnlockCredentialProblem, UserReadProblem, VerifyAuditChainProblem,
    problem_of,
};
use crate::shape::{self, BankId};
use crate::state::AppState;
use crate::strict::StrictString;
use crate::timestamp::Timestamp;

#[derive(Tags)]
pub(crate) enum ApiTags {
    /// Operations for banks' internet-banking systems (API key per bank).
    Bank,
}

/// A bank's API key: `Authorization: Bearer mmr_<prefix>_<secret>`. Created by the platform
/// operator with `mamori api-keys create --tenant <bank>`; it works only for its own bank.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "mmr_<prefix>_<secret>",
    checker = "bank_caller"
)]
pub struct BankKey(pub(crate) BankCaller);

/// The bank behind a request's key, checked before the handler runs: the key must be valid,
/// unrevoked, and belong to the bank in the path (`bank_id`); anything else is answered here
/// with the problem (401, or 404 for another bank's path, as for a missing resource).
async fn bank_caller(req: &Request, bearer: Bearer) -> poem::Result<BankCaller> {
    let ctx = RequestContext::of(req);
    let Some(state) = req.data::<AppState>() else {
        let err = ServiceError::Internal("no application state".into());
        return Err(poem::Error::from_response(
            problem_of(&err, &ctx).into_response(),
        ));
    };
    state
        .services
        .access
        .authenticate_bank(&bearer.token, bank_in_path(req.uri().path()))
        .await
        .map_err(|err| poem::Error::from_response(problem_of(&err, &ctx).into_response()))
}

/// The Bank API.
#[derive(Debug)]
pub struct BankApi {
    state: AppState,
}

impl BankApi {
    /// The Bank API over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// A page of the bank's audit trail, newest first, and the cursor of the next one.
    async fn audit_page(
        &self,
        caller: &BankCaller,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<AuditPage, ServiceError> {
        let before = cursor
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| ServiceError::invalid("cursor: not a cursor from this API"))
            })
            .transpose()?;
        let events = self
            .state
            .services
            .audit
            .list_audit_events(caller, before, limit)
            .await?;
        let next_cursor = (events.len() as u64 == limit)
            .then(|| events.last().map(|e| e.seq.to_string()))
            .flatten();
        let items = events.into_iter().map(AuditEventDto::from).collect();
        Ok(AuditPage { items, next_cursor })
    }
}

/// The bank a bank route names: `/v1/banks/{bank_id}/…` (poem-openapi routes path parameters
/// under positional names, so the checker reads the path itself; an encoded or missing ID
/// matches no bank).
pub(crate) fn bank_in_path(path: &str) -> &str {
    path.strip_prefix("/v1/banks/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

pub(crate) fn meta(ctx: &RequestContext) -> RequestMeta {
    RequestMeta {
        request_id: Some(ctx.request_id.clone()),
        client_addr: ctx.client_addr.clone(),
        client_key: ctx.client_key.clone(),
    }
}

// ------------------------------------------------------------------ DTOs

/// A new contract user.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CreateUserRequest {
    /// 契約者番号 / 契約者ID: the contract number, stored as 1–32 half-width letters, digits,
    /// `-`, `_` and `.`. Spaces around it are trimmed and full-width letters and digits
    /// (`ＡＢ１２`) are converted to half-width; a full-width `－`, `＿` or `．` is refused.
    /// Otherwise `validation_failed`.
    contract_number: shape::ContractNumber,
    /// 利用者ID: the user ID under the contract, for corporate IB, read like the contract
    /// number. Omit it (or send it empty) for personal IB.
    user_id: Option<shape::UserCode>,
    /// A name for the bank's own support desk: at most 100 characters once the spaces around
    /// it are trimmed (so no `maxLength`: the spaces may make it longer).
    #[oai(default)]
    display_name: StrictString,
    /// The temporary login password (仮ログインパスワード) from the customer's application, at
    /// banks whose passwords Mamori keeps. It must follow the bank's password rules; the first
    /// login must change it where the policy says so.
    #[oai(write_only)]
    initial_password: Option<shape::Password>,
}

/// A contract user.
#[derive(Debug, Object)]
struct UserDto {
    /// Mamori's ID for the user (`usr_…`); use it in the user's routes.
    id: String,
    /// 契約者番号.
    contract_number: String,
    /// 利用者ID, if any.
    #[oai(skip_serializing_if_is_none)]
    user_id: Option<String>,
    /// The bank's name for the user.
    display_name: String,
    /// When the user was created.
    created_at: Timestamp,
    /// Mamori holds a login password for the user.
    password_set: bool,
    /// The login password is locked after too many wrong tries (unlockUser lifts it).
    password_locked: bool,
    /// The next login must change the password.
    password_must_change: bool,
}

impl From<User> for UserDto {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            contract_number: user.contract_number,
            user_id: user.user_code,
            display_name: user.display_name,
            created_at: user.created_at.into(),
            password_set: user.password_set,
            password_locked: user.password_locked,
            password_must_change: user.password_must_change,
        }
    }
}

/// 利用開始登録: the customer's credential ID and code(s).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct RegisterCredentialRequest {
    /// クレデンシャルID (トークンID), e.g. `MAMO00001234`: 4 letters and 8 digits, the last a
    /// check digit that catches typos before any code is tried (`credential_id_malformed`), or
    /// the serial of an imported hardware token (4 to 32 letters and digits). Blanks and
    /// hyphens (also `ー`) are removed, full-width letters and digits converted, letters
    /// upper-cased.
    credential_id: shape::CredentialName,
    /// The code shown by the token (OTP1 at banks that register with two codes): 6 to 8 digits
    /// as a string (leading zeros matter); full-width digits and blanks are accepted.
    otp: shape::Otp,
    /// The next code (OTP2), required at banks whose policy registers with two consecutive
    /// codes, refused otherwise.
    otp2: Option<shape::Otp>,
}

/// A code to check.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct OtpRequest {
    /// The code shown by the token: 6 to 8 digits as a string (leading zeros matter);
    /// full-width digits and blanks (`123 456`) are accepted. Otherwise `otp_malformed`.
    otp: shape::Otp,
}

/// 同期ズレ補正: two consecutive codes.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ResyncRequest {
    /// The code shown first (OTP1), read like `verifyOtp`'s.
    otp1: shape::Otp,
    /// The code shown next (OTP2).
    otp2: shape::Otp,
}

/// 機種変更: the old token's code, then the new token.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ChangeDeviceRequest {
    /// A current code of the token being replaced, read like `verifyOtp`'s.
    old_otp: shape::Otp,
    /// The new token's credential ID, read like `registerCredential`'s.
    new_credential_id: shape::CredentialName,
    /// A code of the new token (OTP1 at two-code banks).
    new_otp: shape::Otp,
    /// The next code of the new token, at two-code banks.
    new_otp2: Option<shape::Otp>,
}

/// A user's OTP status (ワンタイムパスワード登録状況).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum OtpUseDto {
    /// 未登録: no token (also after 利用解除).
    None,
    /// 申請済: the bank issued a token by mail (issueToken); the customer has not started
    /// OTP use yet (startOtpUse).
    Issued,
    /// 利用中: registered and usable.
    InUse,
    /// ロック中: locked after too many wrong codes; the bank unlocks.
    Locked,
    /// 利用停止: stopped by the customer.
    Stopped,
    /// 失効: revoked by the bank.
    Revoked,
    /// 全金融機関で一時停止中: the token is suspended on the whole platform after too many
    /// wrong codes across banks (`credential_suspended` is true). Every code is refused
    /// (`credential_suspended`, 423) at every bank; the bank cannot unlock it
    /// (`platform_operator_required`); only a platform operator lifts the suspension, and the
    /// status then reads as before (`in_use`, or `locked` if the bank's own lock remains).
    Suspended,
}

impl From<OtpUse> for OtpUseDto {
    fn from(value: OtpUse) -> Self {
        match value {
            OtpUse::None => Self::None,
            OtpUse::Issued => Self::Issued,
            OtpUse::InUse => Self::InUse,
            OtpUse::Locked => Self::Locked,
            OtpUse::Stopped => Self::Stopped,
            OtpUse::Revoked => Self::Revoked,
            OtpUse::Suspended => Self::Suspended,
        }
    }
}

/// A user's OTP status at this bank.
#[derive(Debug, Object)]
pub(crate) struct OtpStatusDto {
    /// none / issued / in_use / locked / stopped / revoked / suspended.
    status: OtpUseDto,
    /// The credential of the user's latest registration.
    #[oai(skip_serializing_if_is_none)]
    credential_id: Option<String>,
    /// Consecutive wrong codes at this bank.
    failures: u32,
    /// Wrong codes left before the lock (for in_use and locked; absent while suspended, when
    /// no code is checked).
    #[oai(skip_serializing_if_is_none)]
    attempts_left: Option<u32>,
    /// When a code was last accepted at this bank.
    #[oai(skip_serializing_if_is_none)]
    last_success_at: Option<Timestamp>,
    /// The credential is suspended on the whole platform after too many wrong codes across
    /// all banks; only the platform operator reinstates it. A live token then reads
    /// `suspended`.
    credential_suspended: bool,
}

impl From<OtpStatus> for OtpStatusDto {
    fn from(s: OtpStatus) -> Self {
        Self {
            status: s.status.into(),
            credential_id: s.credential_id,
            failures: s.failures,
            attempts_left: s.attempts_left,
            last_success_at: s.last_success_at.map(Timestamp),
            credential_suspended: s.credential_suspended,
        }
    }
}

/// A code was accepted.
#[derive(Debug, Object)]
struct OtpAcceptedDto {
    /// Always `accepted`.
    result: String,
    /// The credential that produced the code.
    credential_id: String,
    /// When it was accepted.
    accepted_at: Timestamp,
}

/// One audit entry.
#[derive(Debug, Object)]
struct AuditEventDto {
    /// Position in the bank's hash chain, from 1.
    seq: i64,
    /// When it happened.
    occurred_at: Timestamp,
    /// Who acted (`bank:<api key id>`, `operator:<name>`, `system`).
    actor: String,
    /// The operation (an operationId).
    operation: String,
    /// `success` or `failure`.
    outcome: String,
    /// The error code of a failure.
    #[oai(skip_serializing_if_is_none)]
    error_code: Option<String>,
    /// The user concerned.
    #[oai(skip_serializing_if_is_none)]
    user_id: Option<String>,
    /// The credential concerned.
    #[oai(skip_serializing_if_is_none)]
    credential_id: Option<String>,
    /// The request's ID.
    #[oai(skip_serializing_if_is_none)]
    request_id: Option<String>,
    /// The client's address.
    #[oai(skip_serializing_if_is_none)]
    client_addr: Option<String>,
    /// Extra facts (JSON text), e.g. the drift learned by a resync.
    #[oai(skip_serializing_if_is_none)]
    details: Option<String>,
    /// The entry's link: HMAC-SHA256, under a key only Mamori holds, over the previous entry's
    /// link and every field of this one.
    hash: String,
}

impl From<AuditRecord> for AuditEventDto {
    fn from(e: AuditRecord) -> Self {
        Self {
            seq: e.seq,
            occurred_at: e.occurred_at.into(),
            actor: e.actor,
            operation: e.operation.as_str().to_owned(),
            outcome: e.outcome.as_str().to_owned(),
            error_code: e.error_code,
            user_id: e.user_id,
            credential_id: e.credential_id,
            request_id: e.request_id,
            client_addr: e.client_addr,
            details: e.details,
            hash: e.hash,
        }
    }
}

/// A page of audit entries, newest first.
#[derive(Debug, Object)]
struct AuditPage {
    /// The entries.
    items: Vec<AuditEventDto>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    next_cursor: Option<String>,
}

/// The result of checking the bank's audit hash chain.
#[derive(Debug, Object)]
struct AuditChainDto {
    /// Whether every entry is present and unaltered.
    intact: bool,
    /// Entries checked (when intact).
    #[oai(skip_serializing_if_is_none)]
    entries: Option<u64>,
    /// The first sequence number that does not check out.
    #[oai(skip_serializing_if_is_none)]
    broken_at_seq: Option<i64>,
    /// Why the chain is broken.
    #[oai(skip_serializing_if_is_none)]
    reason: Option<String>,
}

// ------------------------------------------------------------------ responses

#[derive(ApiResponse)]
enum CreateUserResponse {
    /// The user was created (with its initial password, if one was sent).
    #[oai(status = 201)]
    Created(Json<UserDto>),
}

#[derive(ApiResponse)]
enum UserResponse {
    /// The user.
    #[oai(status = 200)]
    Ok(Json<UserDto>),
}

#[derive(ApiResponse)]
enum FoundUserResponse {
    /// The user with this contract number (and user ID).
    #[oai(status = 200)]
    Ok(Json<UserDto>),
}

#[derive(ApiResponse)]
enum OtpStatusResponse {
    /// The user's OTP status now.
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum RegisteredResponse {
    /// The token is registered; the code(s) are spent. The user's OTP status now (`in_use`).
    #[oai(status = 201)]
    Created(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum VerifiedResponse {
    /// The code was accepted and is spent on the whole platform.
    #[oai(status = 200)]
    Ok(Json<OtpAcceptedDto>),
}

#[derive(ApiResponse)]
enum ResyncedResponse {
    /// Both codes were accepted and are spent; the token's drift is learned for every bank.
    #[oai(status = 200)]
    Ok(Json<OtpAcceptedDto>),
}

#[derive(ApiResponse)]
enum StoppedResponse {
    /// The code was accepted and is spent; OTP use at this bank is stopped (status
    /// `stopped`).
    #[oai(status = 200)]
    Ok(Json<OtpAcceptedDto>),
}

#[derive(ApiResponse)]
enum DeviceChangedResponse {
    /// The new token replaced the old one; the codes are spent. The user's OTP status now
    /// (`in_use`, with the new credential).
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum RevokedResponse {
    /// The token is revoked at this bank. The user's OTP status now (`revoked`).
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum UnlockedResponse {
    /// The token is unlocked and its failures at this bank cleared. The user's OTP status now.
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum AuditPageResponse {
    /// A page of the bank's audit entries, newest first.
    #[oai(status = 200)]
    Ok(Json<AuditPage>),
}

#[derive(ApiResponse)]
enum AuditChainResponse {
    /// The chain check's result: intact, or where it breaks.
    #[oai(status = 200)]
    Ok(Json<AuditChainDto>),
}

fn accepted(a: mamori_service::Accepted) -> Json<OtpAcceptedDto> {
    Json(OtpAcceptedDto {
        result: "accepted".into(),
        credential_id: a.credential_id,
        accepted_at: a.accepted_at.into(),
    })
}

fn codes(first: shape::Otp, second: Option<shape::Otp>) -> Vec<String> {
    std::iter::once(first)
        .chain(second)
        .map(shape::Otp::into_inner)
        .collect()
}

#[OpenApi(tag = "ApiTags::Bank")]
impl BankApi {
    /// Create a contract user
    ///
    /// Creates a user (契約者) at the bank: a contract number, optionally a user ID under it
    /// (corporate IB), and a display name. Errors: `validation_failed` (bad identifiers),
    /// `user_already_exists` (409).
    #[oai(
        path = "/v1/banks/:bank_id/users",
        method = "post",
        operation_id = "createUser"
    )]
    async fn create_user(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID, e.g. `johoku-shinkin`.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        body: Json<CreateUserRequest>,
    ) -> Result<CreateUserResponse, CreateUserProblem> {
        let caller = &key.0;
        let body = body.0;
        self.state
            .services
            .users
            .create_user(
                caller,
                &meta(&ctx),
                mamori_service::NewUser {
                    contract_number: body.contract_number.0,
                    user_code: body.user_id.map(|u| u.0),
                    display_name: body.display_name.0,
                    initial_password: body.initial_password.map(|p| p.0),
                },
            )
            .await
            .map(|u| CreateUserResponse::Created(Json(u.into())))
            .map_err(|e| CreateUserProblem::from_error(&e, &ctx))
    }

    /// Get a contract user
    ///
    /// Errors: `not_found` for an unknown user or another bank's user.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user",
        method = "get",
        operation_id = "getUser"
    )]
    async fn get_user(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID (`usr_…`).
        user: Path<String>,
    ) -> Result<UserResponse, UserReadProblem> {
        let caller = &key.0;
        self.state
            .services
            .users
            .get_user(caller, &user)
            .await
            .map(|u| UserResponse::Ok(Json(u.into())))
            .map_err(|e| UserReadProblem::from_error(&e, &ctx))
    }

    /// Find a contract user by contract number
    ///
    /// Looks a user up by 契約者番号 (and 利用者ID). Errors: `not_found`.
    #[oai(
        path = "/v1/banks/:bank_id/users",
        method = "get",
        operation_id = "findUser"
    )]
    async fn find_user(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// 契約者番号, read as createUser reads it (spaces trimmed, full-width letters and
        /// digits converted).
        contract_number: Query<shape::ContractNumber>,
        /// 利用者ID, if the bank uses them.
        user_id: Query<Option<shape::UserCode>>,
    ) -> Result<FoundUserResponse, FindUserProblem> {
        let caller = &key.0;
        self.state
            .services
            .users
            .find_user(caller, &contract_number, user_id.as_deref())
            .await
            .map(|u| FoundUserResponse::Ok(Json(u.into())))
            .map_err(|e| FindUserProblem::from_error(&e, &ctx))
    }

    /// Register a token (利用開始登録)
    ///
    /// Binds the customer's credential to the user with one code, or with two consecutive
    /// codes (`otp`, `otp2`, the second still current) where the bank's policy says so. The
    /// codes are spent: the login that follows needs a new one. One live token per user per
    /// bank; the same credential may be registered to several users and at several banks.
    /// Errors: `credential_id_malformed`, `otp_malformed`, `validation_failed` (wrong number of
    /// codes) — 400; `credential_unknown` — 404; `credential_already_registered`,
    /// `otp_already_used` — 409; `otp_invalid`, `credential_kind_not_allowed` — 422;
    /// `credential_suspended` — 423; `rate_limited` — 429. A wrong code is counted against
    /// this user's registration attempts (10 an hour, reserved before the code is checked),
    /// never against the credential: the person typing it may not be its owner.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/credential",
        method = "post",
        operation_id = "registerCredential"
    )]
    async fn register_credential(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<RegisterCredentialRequest>,
    ) -> Result<RegisteredResponse, RegisterCredentialProblem> {
        let caller = &key.0;
        let body = body.0;
        self.state
            .services
            .registration
            .register_credential(
                caller,
                &meta(&ctx),
                &user,
                &body.credential_id,
                &codes(body.otp, body.otp2),
            )
            .await
            .map(|s| RegisteredResponse::Created(Json(s.into())))
            .map_err(|e| RegisterCredentialProblem::from_error(&e, &ctx))
    }

    /// Check a code at login
    ///
    /// Checks one code against the user's token within the bank's window around the token's
    /// learned drift. A success spends the code's time step for the credential on the whole
    /// platform and resets this bank's failure count. A wrong code counts one failure at this
    /// bank only; at the bank's limit the token locks here. Errors: `otp_malformed` — 400 (not
    /// counted); `otp_not_registered` — 404; `otp_already_used` — 409 (wait for the next code;
    /// not counted); `otp_invalid` — 422 with `attempts_left`; `otp_locked`,
    /// `credential_suspended` — 423.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/otp/verify",
        method = "post",
        operation_id = "verifyOtp"
    )]
    async fn verify_otp(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<OtpRequest>,
    ) -> Result<VerifiedResponse, CurrentCodeProblem> {
        let caller = &key.0;
        self.state
            .services
            .otp
            .verify_otp(caller, &meta(&ctx), &user, &body.otp)
            .await
            .map(|a| VerifiedResponse::Ok(accepted(a)))
            .map_err(|e| CurrentCodeProblem::from_error(&e, &ctx))
    }

    /// Correct sync drift (同期ズレ補正)
    ///
    /// Two consecutive codes found within the bank's resync window around the true time teach
    /// Mamori the token's clock offset, for every bank (it is the phone's clock). Both steps
    /// are spent. Drift never moves beyond the window, however often this is repeated.
    /// Errors: as `verifyOtp`, with `resync_failed` (422) for codes that are not two
    /// consecutive codes within the window; a failed resync counts one failure.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/credential/resync",
        method = "post",
        operation_id = "resyncCredential"
    )]
    async fn resync_credential(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<ResyncRequest>,
    ) -> Result<ResyncedResponse, ResyncCredentialProblem> {
        let caller = &key.0;
        self.state
            .services
            .otp
            .resync_credential(caller, &meta(&ctx), &user, &body.otp1, &body.otp2)
            .await
            .map(|a| ResyncedResponse::Ok(accepted(a)))
            .map_err(|e| ResyncCredentialProblem::from_error(&e, &ctx))
    }

    /// Stop OTP use (利用停止)
    ///
    /// The customer ends OTP use at this bank, proven with a current code (checked and counted
    /// like `verifyOtp`). Other banks' registrations of the same token are untouched.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/credential/stop",
        method = "post",
        operation_id = "stopCredential"
    )]
    async fn stop_credential(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<OtpRequest>,
    ) -> Result<StoppedResponse, CurrentCodeProblem> {
        let caller = &key.0;
        self.state
            .services
            .otp
            .stop_credential(caller, &meta(&ctx), &user, &body.otp)
            .await
            .map(|a| StoppedResponse::Ok(accepted(a)))
            .map_err(|e| CurrentCodeProblem::from_error(&e, &ctx))
    }

    /// Change device (機種変更)
    ///
    /// A current code of the old token, then the new credential ID and its code(s) (two at
    /// two-code banks), in one atomic step: if any part fails nothing changes and the old token
    /// keeps working. A wrong old code counts like `verifyOtp`; the new token's code counts
    /// against this user's registration attempts like `registerCredential`. Without the old
    /// device, the bank revokes (`revokeCredential`) and the customer registers anew.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/credential/change-device",
        method = "post",
        operation_id = "changeDevice"
    )]
    async fn change_device(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<ChangeDeviceRequest>,
    ) -> Result<DeviceChangedResponse, ChangeDeviceProblem> {
        let caller = &key.0;
        let body = body.0;
        self.state
            .services
            .registration
            .change_device(
                caller,
                &meta(&ctx),
                &user,
                &body.old_otp,
                &body.new_credential_id,
                &codes(body.new_otp, body.new_otp2),
            )
            .await
            .map(|s| DeviceChangedResponse::Ok(Json(s.into())))
            .map_err(|e| ChangeDeviceProblem::from_error(&e, &ctx))
    }

    /// Revoke the user's token (失効)
    ///
    /// For the bank's support desk, e.g. a lost phone: no code needed. The customer can then
    /// register a new token. Errors: `otp_not_registered` (404) when there is no live token.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/credential/revoke",
        method = "post",
        operation_id = "revokeCredential"
    )]
    async fn revoke_credential(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
    ) -> Result<RevokedResponse, RevokeCredentialProblem> {
        let caller = &key.0;
        self.state
            .services
            .support_desk
            .revoke_credential(caller, &meta(&ctx), &user)
            .await
            .map(|s| RevokedResponse::Ok(Json(s.into())))
            .map_err(|e| RevokeCredentialProblem::from_error(&e, &ctx))
    }

    /// Unlock the user's token (ロック解除)
    ///
    /// For the bank's support desk: clears the failure count and unlocks a token locked after
    /// too many wrong codes at this bank. Errors: `otp_not_registered` (404);
    /// `platform_operator_required` (423) while the token is suspended on the whole platform
    /// (status `suspended`): only a platform operator lifts that, and nothing is changed.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/credential/unlock",
        method = "post",
        operation_id = "unlockCredential"
    )]
    async fn unlock_credential(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
    ) -> Result<UnlockedResponse, UnlockCredentialProblem> {
        let caller = &key.0;
        self.state
            .services
            .support_desk
            .unlock_credential(caller, &meta(&ctx), &user)
            .await
            .map(|s| UnlockedResponse::Ok(Json(s.into())))
            .map_err(|e| UnlockCredentialProblem::from_error(&e, &ctx))
    }

    /// Get the user's OTP status
    ///
    /// none / issued / in_use / locked / stopped / revoked / suspended, the credential ID,
    /// failures and the last success time at this bank. `issued` (申請済): a token issued by
    /// mail (issueToken) not yet in use; a live token always wins over an open issue.
    /// `suspended`: the token is suspended on the whole platform; it outranks `in_use` and
    /// `locked` because no code works and the bank cannot unlock it.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/otp-status",
        method = "get",
        operation_id = "getOtpStatus"
    )]
    async fn get_otp_status(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
    ) -> Result<OtpStatusResponse, UserReadProblem> {
        let caller = &key.0;
        self.state
            .services
            .otp
            .otp_status(caller, &user)
            .await
            .map(|s| OtpStatusResponse::Ok(Json(s.into())))
            .map_err(|e| UserReadProblem::from_error(&e, &ctx))
    }

    /// List the bank's audit trail
    ///
    /// Every attempt and state change at this bank, newest first, `limit` (1–200, default 50)
    /// per page; pass `next_cursor` back as `cursor` for the next page.
    #[oai(
        path = "/v1/banks/:bank_id/audit-events",
        method = "get",
        operation_id = "listAuditEvents"
    )]
    async fn list_audit_events(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Entries per page, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
        /// The previous page's `next_cursor`.
        cursor: Query<Option<String>>,
    ) -> Result<AuditPageResponse, ListAuditEventsProblem> {
        self.audit_page(&key.0, cursor.0.as_deref(), limit.0)
            .await
            .map(|p| AuditPageResponse::Ok(Json(p)))
            .map_err(|e| ListAuditEventsProblem::from_error(&e, &ctx))
    }

    /// Verify the bank's audit hash chain
    ///
    /// Recomputes every entry's keyed link (HMAC-SHA256 under a key derived from Mamori's
    /// master key) and its tie to the previous entry; reports the first entry that was deleted
    /// or altered. Removing the newest entries is found against a signed checkpoint kept
    /// outside the database (`mamori audit checkpoint`), which the platform operator holds.
    #[oai(
        path = "/v1/banks/:bank_id/audit-events/verify",
        method = "get",
        operation_id = "verifyAuditChain"
    )]
    async fn verify_audit_chain(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
    ) -> Result<AuditChainResponse, VerifyAuditChainProblem> {
        let caller = &key.0;
        self.state
            .services
            .audit
            .verify_audit_chain(&caller.tenant_id)
            .await
            .map(|check| {
                AuditChainResponse::Ok(Json(match check {
                    ChainStatus::Intact { entries } => AuditChainDto {
                        intact: true,
                        entries: Some(entries),
                        broken_at_seq: None,
                        reason: None,
                    },
                    ChainStatus::Broken { at_seq, reason } => AuditChainDto {
                        intact: false,
                        entries: None,
                        broken_at_seq: Some(at_seq),
                        reason: Some(reason),
                    },
                }))
            })
            .map_err(|e| VerifyAuditChainProblem::from_error(&e, &ctx))
    }
}

fn default_limit() -> u64 {
    50
}

#[cfg(test)]
mod tests {
    use super::bank_in_path;

    #[test]
    fn the_bank_is_the_segment_after_banks() {
        assert_eq!(
            bank_in_path("/v1/banks/jonan-shinkin/users"),
            "jonan-shinkin"
        );
        assert_eq!(bank_in_path("/v1/banks/jonan-shinkin"), "jonan-shinkin");
        assert_eq!(bank_in_path("/v1/banks//users"), "");
        assert_eq!(bank_in_path("/v1/token/credentials"), "");
    }
}
