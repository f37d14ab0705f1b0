//! プッシュ通知認証 (seed 000): the bank asks the customer's phone to approve a transaction
//! (Bank tag, bank key); the phone lists and answers its approvals, proving itself with its
//! device key (Token tag, no bank key).

use mamori_domain::push::{ApprovalState, PushDecision};
use mamori_domain::transaction::Transaction;
use mamori_service::{
    MAX_WAIT_SECONDS, NewPushApproval, PendingApproval, PushAnswer, PushApprovalView,
};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::bank::{BankKey, meta};
use crate::context::RequestContext;
use crate::errors::{
    AnswerPushApprovalProblem, CreatePushApprovalProblem, GetPushApprovalProblem,
    ListPendingApprovalsProblem,
};
use crate::login::TransactionDto;
use crate::shape::{self, BankId, WaitSeconds};
use crate::state::AppState;
use crate::strict::StrictString;
use crate::timestamp::Timestamp;

/// Push approval: the Bank operations that create and read approvals, and the Token
/// operations a customer's device lists and answers them with.
#[derive(Debug)]
pub struct PushApi {
    state: AppState,
}

impl PushApi {
    /// The Push API over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

// ------------------------------------------------------------------ DTOs

/// A text in Japanese and English.
#[derive(Debug, Object)]
struct LocalizedText {
    /// Japanese.
    ja: String,
    /// English.
    en: String,
}

/// What the phone shows, in Japanese and English.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct DisplayTexts {
    /// Japanese: 1 to 500 characters, not only spaces.
    ja: shape::DisplayText,
    /// English: 1 to 500 characters, not only spaces.
    en: shape::DisplayText,
}

/// What the bank asks the customer to approve.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CreatePushApprovalRequest {
    /// The transaction, exactly as verifyTransactionOtp takes it; its SHA-256 is what the
    /// device signs and what the receipt carries.
    transaction: TransactionDto,
    /// What the phone shows (e.g. 「振込 150,000円 ｼﾞｮｳﾅﾝ ﾀﾛｳ」), 1 to 500 characters each.
    display: DisplayTexts,
    /// Make the customer pick, on the phone, the two-digit `number` the IB screen shows (so an
    /// approval cannot be given blindly). The bank's policy `push.number_challenge = true`
    /// forces it on.
    number_challenge: Option<bool>,
}

/// The state of a push approval.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum ApprovalStatusDto {
    /// Sent to the phone; waiting for the customer.
    Pending,
    /// 承認: the transaction may go ahead.
    Approved,
    /// 拒否 (or a wrong number): the transaction is cancelled.
    Denied,
    /// No answer in time: the transaction is cancelled.
    Expired,
    /// Replaced by a newer approval for the same user before it was answered.
    Cancelled,
}

impl From<ApprovalState> for ApprovalStatusDto {
    fn from(state: ApprovalState) -> Self {
        match state {
            ApprovalState::Pending => Self::Pending,
            ApprovalState::Approved => Self::Approved,
            ApprovalState::Denied => Self::Denied,
            ApprovalState::Expired => Self::Expired,
            ApprovalState::Cancelled => Self::Cancelled,
        }
    }
}

/// A new approval, sent to the phone.
#[derive(Debug, Object)]
struct PushApprovalCreatedDto {
    /// The approval's ID (`pa_…`), for getPushApproval.
    approval_id: String,
    /// Always `pending`.
    status: ApprovalStatusDto,
    /// When no answer cancels it (now + the bank's `push.timeout_seconds`).
    expires_at: Timestamp,
    /// With a number challenge: the two digits (10–99) to show on the IB screen. The phone
    /// never receives it; the customer must pick it there.
    #[oai(skip_serializing_if_is_none)]
    number: Option<String>,
}

/// A push approval as its bank sees it.
#[derive(Debug, Object)]
struct PushApprovalDto {
    /// `pa_…`.
    approval_id: String,
    /// Mamori's user ID.
    user_id: String,
    /// pending, approved, denied, expired or cancelled.
    status: ApprovalStatusDto,
    /// SHA-256 (hex) of the canonical transaction.
    transaction_hash: String,
    /// When the bank created it.
    created_at: Timestamp,
    /// When no answer cancels it.
    expires_at: Timestamp,
    /// When the phone answered.
    #[oai(skip_serializing_if_is_none)]
    answered_at: Option<Timestamp>,
    /// Only when approved, until five minutes after the answer: the signed receipt, a JWT like
    /// verifyTransactionOtp's with `amr: ["push"]`, `txn_kind`, `txn_hash` and `approval_id`,
    /// its `iat` and `auth_time` the answer time and its `jti` the approval's ID, so every
    /// read gives the same receipt; verify it with `/.well-known/jwks.json`.
    #[oai(skip_serializing_if_is_none)]
    receipt: Option<String>,
}

impl From<PushApprovalView> for PushApprovalDto {
    fn from(v: PushApprovalView) -> Self {
        Self {
            approval_id: v.approval_id,
            user_id: v.user_id,
            status: v.status.into(),
            transaction_hash: v.transaction_hash,
            created_at: v.created_at.into(),
            expires_at: v.expires_at.into(),
            answered_at: v.answered_at.map(Timestamp),
            receipt: v.receipt,
        }
    }
}

/// An approval waiting for the customer, as the device shows it.
#[derive(Debug, Object)]
struct PendingApprovalDto {
    /// `pa_…`.
    approval_id: String,
    /// The bank asking.
    bank_id: String,
    /// The bank's name.
    bank_name: LocalizedText,
    /// The transaction to approve.
    transaction: TransactionDto,
    /// SHA-256 (hex) of the canonical transaction: sign exactly this in the answer.
    transaction_hash: String,
    /// What to show the customer.
    display: DisplayTexts,
    /// The customer must pick the number shown on the IB screen (0–99 choices on the phone);
    /// the number itself is never sent to the device.
    number_challenge: bool,
    /// When the bank created it.
    created_at: Timestamp,
    /// When no answer cancels it.
    expires_at: Timestamp,
}

impl From<PendingApproval> for PendingApprovalDto {
    fn from(p: PendingApproval) -> Self {
        Self {
            approval_id: p.approval_id,
            bank_id: p.bank_id,
            bank_name: LocalizedText {
                ja: p.bank_name_ja,
                en: p.bank_name_en,
            },
            transaction: p.transaction.into(),
            transaction_hash: p.transaction_hash,
            display: DisplayTexts {
                ja: p.display_ja.into(),
                en: p.display_en.into(),
            },
            number_challenge: p.number_challenge,
            created_at: p.created_at.into(),
            expires_at: p.expires_at.into(),
        }
    }
}

/// The approvals waiting for a device.
#[derive(Debug, Object)]
struct PendingApprovalsDto {
    /// Pending, unexpired approvals of the credential at every bank, oldest first.
    approvals: Vec<PendingApprovalDto>,
}

/// The customer's decision.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum DecisionDto {
    /// 承認.
    Approve,
    /// 拒否.
    Deny,
}

impl From<DecisionDto> for PushDecision {
    fn from(d: DecisionDto) -> Self {
        match d {
            DecisionDto::Approve => Self::Approve,
            DecisionDto::Deny => Self::Deny,
        }
    }
}

/// The device's signed answer.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct AnswerRequest {
    /// The credential whose device answers (the approval's credential), read like
    /// `registerCredential`'s but only a Mamori ID (no serial: imported tokens have no device
    /// key).
    credential_id: shape::CredentialId,
    /// `approve` (承認) or `deny` (拒否).
    decision: DecisionDto,
    /// With a number challenge: the number the customer picked (needed to approve), the two
    /// digits exactly as the IB screen shows them. A wrong or malformed number denies the
    /// approval (`push_number_mismatch`), so it has no pattern: a client must not refuse to
    /// send it.
    number: Option<StrictString>,
    /// The `transaction_hash` the device showed, exactly (64 lowercase hex digits).
    transaction_hash: shape::Sha256Hex,
    /// Unix seconds when the device signed; at most 5 minutes from the server's clock.
    signed_at: i64,
    /// Ed25519 by the device key, base64url without padding, over the UTF-8 text
    /// `mamori-push-answer-v1\n<approval_id>\n<bank_id>\n<transaction_hash>\n<decision>\n<number or empty>\n<signed_at>`.
    signature: shape::Signature,
}

/// The recorded answer.
#[derive(Debug, Object)]
struct AnsweredDto {
    /// `pa_…`.
    approval_id: String,
    /// `approved` or `denied`.
    status: ApprovalStatusDto,
}

// ------------------------------------------------------------------ responses

#[derive(ApiResponse)]
enum CreatedResponse {
    /// The approval was created, any pending one of the user replaced, and the phone notified.
    #[oai(status = 201)]
    Created(Json<PushApprovalCreatedDto>),
}

#[derive(ApiResponse)]
enum ApprovalResponse {
    /// The approval as it is now, with the receipt once approved.
    #[oai(status = 200)]
    Ok(Json<PushApprovalDto>),
}

#[derive(ApiResponse)]
enum PendingResponse {
    /// The credential's pending approvals at every bank (possibly none).
    #[oai(status = 200)]
    Ok(Json<PendingApprovalsDto>),
}

#[derive(ApiResponse)]
enum AnsweredResponse {
    /// The answer was recorded: the approval is `approved` or `denied`.
    #[oai(status = 200)]
    Ok(Json<AnsweredDto>),
}

#[OpenApi]
impl PushApi {
    /// Ask the customer's phone to approve a transaction (プッシュ通知認証)
    ///
    /// Sends the transaction to the phone holding the user's registered Mamori token; the
    /// customer approves (承認) or denies (拒否) it there, and no answer within the bank's
    /// `push.timeout_seconds` cancels it. Poll getPushApproval (or take the webhook) for the
    /// result. A user has one pending approval at a time: a new one cancels the previous one.
    /// Errors: `validation_failed` (400: the transaction, or `display` texts not 1 to 500
    /// characters); `push_disabled` (403: the bank does not use push approval);
    /// `not_found`, `otp_not_registered` (404); `push_unavailable` (409: the registered token
    /// has no device key, i.e. it is not Mamori's own token); `otp_locked`,
    /// `credential_suspended` (423).
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/push-approvals",
        method = "post",
        operation_id = "createPushApproval",
        tag = "crate::bank::ApiTags::Bank"
    )]
    async fn create_push_approval(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<CreatePushApprovalRequest>,
    ) -> Result<CreatedResponse, CreatePushApprovalProblem> {
        let services = &self.state.services;
        let caller = &key.0;
        let body = body.0;
        let new = NewPushApproval {
            transaction: Transaction::from(body.transaction),
            display_ja: body.display.ja.0,
            display_en: body.display.en.0,
            number_challenge: body.number_challenge.unwrap_or(false),
        };
        services
            .push
            .create_push_approval(caller, &meta(&ctx), &user, new)
            .await
            .map(|c| {
                CreatedResponse::Created(Json(PushApprovalCreatedDto {
                    approval_id: c.approval_id,
                    status: c.status.into(),
                    expires_at: c.expires_at.into(),
                    number: c.number,
                }))
            })
            .map_err(|e| CreatePushApprovalProblem::from_error(&e, &ctx))
    }

    /// Get a push approval and, once approved, its receipt
    ///
    /// The state of an approval of this bank: `pending`, `approved` (with a signed receipt,
    /// the same on every read, until five minutes after the answer; none after that), `denied`,
    /// `expired` (no answer in time) or `cancelled` (replaced by a newer one).
    /// Errors: `not_found` (404) for an unknown approval or another bank's.
    #[oai(
        path = "/v1/banks/:bank_id/push-approvals/:approval_id",
        method = "get",
        operation_id = "getPushApproval",
        tag = "crate::bank::ApiTags::Bank"
    )]
    async fn get_push_approval(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// The approval's ID (`pa_…`).
        approval_id: Path<String>,
    ) -> Result<ApprovalResponse, GetPushApprovalProblem> {
        let services = &self.state.services;
        let caller = &key.0;
        services
            .push
            .get_push_approval(caller, &approval_id)
            .await
            .map(|v| ApprovalResponse::Ok(Json(v.into())))
            .map_err(|e| GetPushApprovalProblem::from_error(&e, &ctx))
    }

    /// List the approvals waiting for this device
    ///
    /// The pending approvals of the credential at every bank, for the device holding its key.
    /// The device signs `mamori-push-list-v1\n<credential_id>\n<unix seconds>` with its key
    /// and sends the time in `Mamori-Device-Time` and the signature in
    /// `Mamori-Device-Signature`. With `wait` (1–30 s) and nothing pending, the answer waits
    /// until an approval arrives or the time is up (long poll). The challenge number is never
    /// included. Errors: `credential_id_malformed`, `validation_failed` (400);
    /// `device_signature_invalid` (403: a missing or wrong signature, another key, a time more
    /// than 5 minutes off, no token with this ID, or a token without a device key — one answer
    /// for all, so the route tells a stranger nothing about a credential); `rate_limited` (429:
    /// too many failed listings from this client within the hour; a signed listing does not
    /// count).
    #[oai(
        path = "/v1/token/credentials/:credential_id/approvals",
        method = "get",
        operation_id = "listPendingApprovals",
        tag = "crate::token::ApiTags::Token"
    )]
    async fn list_pending_approvals(
        &self,
        ctx: RequestContext,
        /// The credential ID, read like `registerCredential`'s but only a Mamori ID.
        credential_id: Path<shape::CredentialId>,
        /// Seconds to wait for an approval when none is pending (0–30; 0 answers at once).
        /// More is `validation_failed`.
        wait: Query<Option<WaitSeconds>>,
        /// Unix seconds when the device signed the request.
        #[oai(name = "Mamori-Device-Time")]
        device_time: Header<Option<String>>,
        /// The device's Ed25519 signature (base64url) over
        /// `mamori-push-list-v1\n<credential_id>\n<Mamori-Device-Time>`.
        #[oai(name = "Mamori-Device-Signature")]
        device_signature: Header<Option<String>>,
    ) -> Result<PendingResponse, ListPendingApprovalsProblem> {
        let signed_at = device_time
            .0
            .as_deref()
            .and_then(|t| t.trim().parse::<i64>().ok());
        let wait = wait.0.map_or(0, |w| w.0);
        let pending = if wait > MAX_WAIT_SECONDS {
            Err(mamori_service::ServiceError::invalid(format!(
                "wait: 0 to {MAX_WAIT_SECONDS} seconds"
            )))
        } else {
            self.state
                .services
                .push
                .list_pending_approvals(
                    &meta(&ctx),
                    &credential_id,
                    signed_at,
                    device_signature.0.as_deref(),
                    wait,
                )
                .await
        };
        pending
            .map(|list| {
                PendingResponse::Ok(Json(PendingApprovalsDto {
                    approvals: list.into_iter().map(Into::into).collect(),
                }))
            })
            .map_err(|e| ListPendingApprovalsProblem::from_error(&e, &ctx))
    }

    /// Approve or deny a transaction on the device (承認 / 拒否)
    ///
    /// The device's answer, signed with its key over the approval, the bank, the transaction
    /// hash, the decision, the number and the time (see `signature`). Checked in this order,
    /// each refusal changing nothing: `device_signature_invalid` (403: an unknown approval, not
    /// this credential's, a credential without a device key, or a wrong or stale signature —
    /// one answer for all; `rate_limited` (429) after too many of them from this client within
    /// the hour); then, for the device holding the key, `push_transaction_mismatch` (422: the
    /// hash is not the approval's transaction); `push_approval_expired` (410);
    /// `push_already_answered` (409: answered, cancelled, or a replay);
    /// `otp_not_registered` (404: the token was revoked, stopped or replaced at the bank),
    /// `otp_locked`, `credential_suspended` (423). With a number challenge, approving with a
    /// wrong or missing number denies the approval and answers `push_number_mismatch` (422):
    /// it cannot be tried again.
    #[oai(
        path = "/v1/token/approvals/:approval_id/answer",
        method = "post",
        operation_id = "answerPushApproval",
        tag = "crate::token::ApiTags::Token"
    )]
    async fn answer_push_approval(
        &self,
        ctx: RequestContext,
        /// The approval's ID (`pa_…`).
        approval_id: Path<String>,
        body: Json<AnswerRequest>,
    ) -> Result<AnsweredResponse, AnswerPushApprovalProblem> {
        let body = body.0;
        let answer = PushAnswer {
            credential_id: body.credential_id.0,
            decision: body.decision.into(),
            number: body.number.map(|n| n.0),
            transaction_hash: body.transaction_hash.0,
            signed_at: body.signed_at,
            signature: body.signature.0,
        };
        self.state
            .services
            .push
            .answer_push_approval(&meta(&ctx), &approval_id, answer)
            .await
            .map(|a| {
                AnsweredResponse::Ok(Json(AnsweredDto {
                    approval_id: a.approval_id,
                    status: a.status.into(),
                }))
            })
            .map_err(|e| AnswerPushApprovalProblem::from_error(&e, &ctx))
    }
}
