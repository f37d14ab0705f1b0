//! Tokens issued by mail (seed 003): トークン発行 by the bank, 初期設定 by the customer's app,
//! 利用開始 and 利用解除 by the bank, and the bank's view of its outbox.

use mamori_crypto::DevicePublicKey;
use mamori_domain::OtpUse;
use mamori_service::{OutboxMail, ServiceError};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::bank::{BankKey, OtpStatusDto, OtpUseDto, meta};
use crate::context::RequestContext;
use crate::errors::{
    ActivateTokenProblem, IssueTokenProblem, ListOutboxMailsProblem, ReleaseOtpUseProblem,
    StartOtpUseProblem,
};
use crate::shape::{self, BankId};
use crate::state::AppState;
use crate::strict::StrictString;
use crate::timestamp::Timestamp;

#[derive(Tags)]
enum ApiTags {
    /// Operations for banks' internet-banking systems (API key per bank).
    Bank,
    /// Operations for customers' tokens (no bank key).
    Token,
}

/// The self-issue operations (トークン発行).
#[derive(Debug)]
pub struct SelfIssueApi {
    state: AppState,
}

impl SelfIssueApi {
    /// The self-issue API over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

// ------------------------------------------------------------------ DTOs

/// トークン発行: where to send the activation details, and the password the customer chose.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct IssueTokenRequest {
    /// 携帯メールアドレス: the customer's mobile mail address; the activation mail goes there.
    /// At most 254 characters once the spaces around it are trimmed; anything a mail server
    /// could not deliver to is `validation_failed`.
    mail_address: StrictString,
    /// 利用開始パスワード chosen by the customer: 8 to 32 half-width printable characters
    /// (no spaces) with at least one letter and one digit; full-width characters are refused,
    /// not converted (`validation_failed`). The app asks for it at activation; it is stored only
    /// as an argon2id hash and never mailed. The IB checks its 確認パスワード itself.
    #[oai(write_only)]
    activation_password: shape::ActivationPassword,
}

/// A token issued by mail.
#[derive(Debug, Object)]
struct TokenIssueDto {
    /// The user's OTP status now: `issued` (申請済).
    status: OtpUseDto,
    /// The mail address the activation details were sent to.
    mail_address: String,
    /// Until when the customer's app can activate the token (the bank's
    /// `self_issue.activation_valid_days`).
    expires_at: Timestamp,
    /// The activation mail in the bank's outbox (`listOutboxMails`).
    mail_id: String,
}

/// 初期設定: what the customer types into the token app.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ActivateTokenRequest {
    /// サービスID: the bank's ID, from the mail (spaces around it trimmed).
    service_id: shape::ServiceId,
    /// ユーザID: the 10-digit user ID from the mail (not the bank's user ID; spaces around it
    /// trimmed).
    user_id: shape::ActivationUserId,
    /// 利用開始パスワード: the password the customer chose at the bank, exactly.
    #[oai(write_only)]
    activation_password: shape::ActivationPassword,
    /// Mamori's own token: the Ed25519 public key of the device (32 bytes, base64url without
    /// padding: 43 characters; spaces around it trimmed), registered with the credential for
    /// push approval. Optional; a malformed key is `validation_failed`.
    device_public_key: Option<shape::DeviceKey>,
}

/// The activated token's credential. The secret is shown this once and never again.
#[derive(Debug, Object)]
struct ActivatedDto {
    /// サービスID: the bank the token was issued by.
    service_id: String,
    /// クレデンシャルID of the new credential.
    credential_id: String,
    /// The shared secret, base32 (RFC 4648, no padding).
    secret: String,
    /// `otpauth://` URI (issuer Mamori, label = credential ID, SHA1, 6 digits, 30 s).
    otpauth_uri: String,
    /// The URI as a QR code (SVG).
    qr_svg: String,
    /// HMAC algorithm.
    algorithm: String,
    /// Digits per code.
    digits: u8,
    /// Seconds per code.
    period: u32,
}

/// 利用開始: a code from the activated token.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct StartOtpUseRequest {
    /// The code the token shows now, read like `verifyOtp`'s (a string: leading zeros matter).
    otp: shape::Otp,
}

/// One mail in the bank's outbox.
#[derive(Debug, Object)]
struct OutboxMailDto {
    /// The mail's ID (`mail_…`).
    id: String,
    /// The recipient's address.
    recipient: String,
    /// The subject line.
    subject: String,
    /// The plain-text body (Japanese, then English).
    body: String,
    /// When the mail was written.
    created_at: Timestamp,
    /// When the mail server accepted it; absent while unsent (always, without SMTP).
    #[oai(skip_serializing_if_is_none)]
    sent_at: Option<Timestamp>,
}

impl From<OutboxMail> for OutboxMailDto {
    fn from(mail: OutboxMail) -> Self {
        Self {
            id: mail.id,
            recipient: mail.recipient,
            subject: mail.subject,
            body: mail.body,
            created_at: mail.created_at.into(),
            sent_at: mail.sent_at.map(Timestamp),
        }
    }
}

/// The bank's outbox, newest first.
#[derive(Debug, Object)]
struct OutboxDto {
    /// The mails.
    mails: Vec<OutboxMailDto>,
}

// ------------------------------------------------------------------ responses

#[derive(ApiResponse)]
enum IssueResponse {
    /// The token is issued and its activation mail is in the outbox (sent at once when SMTP is
    /// configured).
    #[oai(status = 201)]
    Created(Json<TokenIssueDto>),
}

#[derive(ApiResponse)]
enum ActivateResponse {
    /// The token is activated: the app's new credential.
    #[oai(status = 201)]
    Created(Json<ActivatedDto>),
}

#[derive(ApiResponse)]
enum StartedResponse {
    /// The issued token is registered to the user; the code is spent. The user's OTP status
    /// now (`in_use`).
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum ReleasedResponse {
    /// The live token is released and any open issue cancelled. The user's OTP status now
    /// (`none`).
    #[oai(status = 200)]
    Ok(Json<OtpStatusDto>),
}

#[derive(ApiResponse)]
enum OutboxResponse {
    /// The bank's mails, newest first.
    #[oai(status = 200)]
    Ok(Json<OutboxDto>),
}

#[OpenApi]
impl SelfIssueApi {
    /// Issue a token by mail (トークン発行)
    ///
    /// For a logged-in customer: mails the activation details (service ID, a random 10-digit
    /// user ID, the expiry and how to set up the app) to the customer's mobile mail address; the
    /// status reads `issued` (申請済). The mail never contains the activation password. An open
    /// issue of the user is cancelled (reissue, e.g. a lost mail). Errors: `validation_failed`
    /// (a bad mail address or activation password) — 400; `self_issue_disabled` — 403;
    /// `not_found` — 404; `credential_already_registered` (the user has a token in use) or
    /// `token_not_activated` (a concurrent issueToken for the same user won) — 409.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/token-issues",
        method = "post",
        operation_id = "issueToken",
        tag = "ApiTags::Bank"
    )]
    async fn issue_token(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID, e.g. `kitashin`.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID (`usr_…`).
        user: Path<String>,
        body: Json<IssueTokenRequest>,
    ) -> Result<IssueResponse, IssueTokenProblem> {
        let caller = &key.0;
        self.state
            .services
            .self_issue
            .issue_token(
                caller,
                &meta(&ctx),
                &user,
                &body.mail_address,
                &body.activation_password,
            )
            .await
            .map(|issued| {
                IssueResponse::Created(Json(TokenIssueDto {
                    status: OtpUse::Issued.into(),
                    mail_address: issued.mail_address,
                    expires_at: issued.expires_at.into(),
                    mail_id: issued.mail_id,
                }))
            })
            .map_err(|e| IssueTokenProblem::from_error(&e, &ctx))
    }

    /// Activate an issued token (初期設定)
    ///
    /// The token app sends the service ID and user ID from the mail and the activation password;
    /// the answer is a new credential, exactly like `provisionCredential`, bound to the issue.
    /// Single use. Errors: `validation_failed` (a malformed device key) — 400;
    /// `activation_failed` — 422, one answer for every failure: a wrong service ID, user ID or
    /// password, or an issue that expired, was activated already, was replaced by a reissue,
    /// or is locked after the bank's `activation_max_attempts` wrong passwords. It carries no
    /// attempt count and takes the same time whichever it is, so it tells a stranger nothing,
    /// not even whether a user ID exists; the bank's audit trail records the real reason.
    /// `rate_limited` — 429, after too many failed activations from this client within the
    /// hour (a successful one does not count).
    #[oai(
        path = "/v1/token/activations",
        method = "post",
        operation_id = "activateToken",
        tag = "ApiTags::Token"
    )]
    async fn activate_token(
        &self,
        ctx: RequestContext,
        body: Json<ActivateTokenRequest>,
    ) -> Result<ActivateResponse, ActivateTokenProblem> {
        let body = body.0;
        let device_key = match body
            .device_public_key
            .as_deref()
            .map(DevicePublicKey::parse)
        {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(e)) => {
                return Err(ActivateTokenProblem::from_error(
                    &ServiceError::invalid(format!("device_public_key: {e}")),
                    &ctx,
                ));
            }
        };
        self.state
            .services
            .self_issue
            .activate_token(
                &meta(&ctx),
                &body.service_id,
                &body.user_id,
                &body.activation_password,
                device_key.as_ref(),
            )
            .await
            .map(|activated| {
                let p = activated.provisioned;
                ActivateResponse::Created(Json(ActivatedDto {
                    service_id: activated.service_id,
                    credential_id: p.credential_id,
                    secret: p.secret_base32,
                    otpauth_uri: p.otpauth_uri,
                    qr_svg: p.qr_svg,
                    algorithm: p.params.algorithm.as_str().to_owned(),
                    digits: p.params.digits.get(),
                    period: p.params.period.seconds(),
                }))
            })
            .map_err(|e| ActivateTokenProblem::from_error(&e, &ctx))
    }

    /// Start OTP use with the issued token (利用開始)
    ///
    /// A code from the activated token registers it to the user with one code (whatever the
    /// bank's registration mode: seed 003's 利用開始 screen has one field), like
    /// `registerCredential`; the status reads `in_use`. Errors: `otp_malformed` — 400;
    /// `self_issue_disabled` — 403; `not_found`, `otp_not_registered` (no open issue) — 404;
    /// `token_not_activated` (the app has not activated it yet), `otp_already_used`,
    /// `credential_already_registered` — 409; `otp_invalid` (counted against the user's
    /// registration attempts, like `registerCredential`) — 422; `credential_suspended` — 423;
    /// `rate_limited` — 429.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/otp-use",
        method = "post",
        operation_id = "startOtpUse",
        tag = "ApiTags::Bank"
    )]
    async fn start_otp_use(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<StartOtpUseRequest>,
    ) -> Result<StartedResponse, StartOtpUseProblem> {
        let caller = &key.0;
        self.state
            .services
            .self_issue
            .start_otp_use(caller, &meta(&ctx), &user, &body.otp)
            .await
            .map(|s| StartedResponse::Ok(Json(OtpStatusDto::from(s))))
            .map_err(|e| StartOtpUseProblem::from_error(&e, &ctx))
    }

    /// Release OTP use (利用解除)
    ///
    /// The user's token in use (or locked) is released and any open issue is cancelled; the
    /// status reads `none` (未登録) and the customer may be issued a token again. Errors:
    /// `self_issue_disabled` — 403; `not_found`, `otp_not_registered` (nothing to release) —
    /// 404.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/otp-use",
        method = "delete",
        operation_id = "releaseOtpUse",
        tag = "ApiTags::Bank"
    )]
    async fn release_otp_use(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
    ) -> Result<ReleasedResponse, ReleaseOtpUseProblem> {
        let caller = &key.0;
        self.state
            .services
            .self_issue
            .release_otp_use(caller, &meta(&ctx), &user)
            .await
            .map(|s| ReleasedResponse::Ok(Json(OtpStatusDto::from(s))))
            .map_err(|e| ReleaseOtpUseProblem::from_error(&e, &ctx))
    }

    /// List the bank's outbox mails
    ///
    /// The mails Mamori wrote for this bank's customers (activation mails), newest first, at
    /// most `limit` (1–200, default 50), with `sent_at` once the mail server accepted them.
    /// Without SMTP the outbox is where mails stay.
    #[oai(
        path = "/v1/banks/:bank_id/outbox",
        method = "get",
        operation_id = "listOutboxMails",
        tag = "ApiTags::Bank"
    )]
    async fn list_outbox_mails(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mails to return, 1–200.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> Result<OutboxResponse, ListOutboxMailsProblem> {
        let caller = &key.0;
        self.state
            .services
            .outbox
            .list_outbox_mails(caller, limit.0)
            .await
            .map(|mails| {
                OutboxResponse::Ok(Json(OutboxDto {
                    mails: mails.into_iter().map(OutboxMailDto::from).collect(),
                }))
            })
            .map_err(|e| ListOutboxMailsProblem::from_error(&e, &ctx))
    }
}

fn default_limit() -> u64 {
    50
}
