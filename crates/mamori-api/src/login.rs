//! The contract login for banks that hand their whole login to Mamori: password under the
//! bank's policy, then the OTP; password changes; the support desk's reset and unlock.

use std::borrow::Cow;

use mamori_domain::LoginStep;
use mamori_domain::policy::TransactionKind;
use mamori_domain::transaction::{Payee, Transaction};
use mamori_service::{LoginStarted, ServiceError};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, Type};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};

use crate::bank::{BankKey, meta};
use crate::context::RequestContext;
use crate::errors::{
    ChangePasswordProblem, CompleteLoginProblem, ResetPasswordProblem, StartLoginProblem,
    UnlockUserProblem, VerifyTransactionOtpProblem,
};
use crate::shape::{self, BankId, Text};
use crate::state::AppState;
use crate::strict::StrictString;
use crate::timestamp::Timestamp;

#[derive(Tags)]
enum ApiTags {
    /// The password → OTP login of a bank's contract users (API key per bank).
    Login,
}

/// The Login API.
#[derive(Debug)]
pub struct LoginApi {
    state: AppState,
}

impl LoginApi {
    /// The Login API over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// ログイン: contract number (+ user ID) and login password.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct StartLoginRequest {
    /// 契約者番号 / 契約者ID, read as createUser reads it (spaces trimmed, full-width
    /// letters and digits converted).
    contract_number: shape::ContractNumber,
    /// 利用者ID, at banks that use them.
    user_id: Option<shape::UserCode>,
    /// The login password, exactly as set (case-sensitive; nothing is trimmed or converted).
    #[oai(write_only)]
    password: shape::Password,
}

/// The OTP that completes a login.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CompleteLoginRequest {
    /// The code shown by the token, read like `verifyOtp`'s.
    otp: shape::Otp,
}

/// changePassword's body as it is read: one object, so that sending both `login_id` and
/// `current_password`, or neither, is the service's `validation_failed` as it always was (a
/// parsed `oneOf` would answer `bad_request`). The spec shows [`ChangePasswordRequest`].
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct ChangePasswordFields {
    /// The new password.
    new_password: shape::Password,
    /// A login at step `password_change_required`.
    login_id: Option<StrictString>,
    /// Or the current password.
    current_password: Option<shape::Password>,
}

/// A new login password inside a login at step `password_change_required`.
#[derive(Debug, Object)]
#[expect(
    dead_code,
    reason = "only the spec shows it: the body is read as ChangePasswordFields"
)]
struct PasswordChangeInLogin {
    /// The new password; it must follow the bank's rules and differ from the current one and
    /// the bank's `history` before it.
    #[oai(write_only)]
    new_password: shape::Password,
    /// The login ID of this user's login at step `password_change_required`.
    login_id: String,
}

/// A new login password for a logged-in user, proven by the current one.
#[derive(Debug, Object)]
#[expect(
    dead_code,
    reason = "only the spec shows it: the body is read as ChangePasswordFields"
)]
struct PasswordChangeWithCurrent {
    /// The new password; it must follow the bank's rules and differ from the current one and
    /// the bank's `history` before it.
    #[oai(write_only)]
    new_password: shape::Password,
    /// The current password (checked and counted like a login).
    #[oai(write_only)]
    current_password: shape::Password,
}

/// changePassword's body: exactly one of the two shapes, so banks' generated clients make a
/// caller choose. Parsed as [`ChangePasswordFields`]; only the schema is the `oneOf`.
#[derive(Debug)]
pub(crate) struct ChangePasswordRequest(ChangePasswordFields);

impl Type for ChangePasswordRequest {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "ChangePasswordRequest".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |registry| {
            PasswordChangeInLogin::register(registry);
            PasswordChangeWithCurrent::register(registry);
            MetaSchema {
                description: Some(
                    "A new login password, proven either by a login at step \
                     `password_change_required` (`login_id`) or by the current password of a \
                     logged-in user (`current_password`): exactly one of the two. Both or \
                     neither is `validation_failed`.",
                ),
                one_of: vec![
                    PasswordChangeInLogin::schema_ref(),
                    PasswordChangeWithCurrent::schema_ref(),
                ],
                ..MetaSchema::ANY
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for ChangePasswordRequest {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        ChangePasswordFields::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

/// What the IB must ask the customer for next.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum NextStepDto {
    /// Ask for the current OTP, then call completeLogin.
    OtpRequired,
    /// Ask for a new password (first login, after a reset, or expired), then changePassword.
    PasswordChangeRequired,
    /// The bank requires an OTP but the user has none: run registerCredential, then
    /// completeLogin with the same login ID and a new code (the registration's codes are
    /// spent).
    OtpRegistrationRequired,
    /// Logged in.
    Complete,
}

impl From<LoginStep> for NextStepDto {
    fn from(step: LoginStep) -> Self {
        match step {
            LoginStep::OtpRequired => Self::OtpRequired,
            LoginStep::PasswordChangeRequired => Self::PasswordChangeRequired,
            LoginStep::OtpRegistrationRequired => Self::OtpRegistrationRequired,
            LoginStep::Complete => Self::Complete,
        }
    }
}

/// A login in progress.
#[derive(Debug, Object)]
struct LoginStepDto {
    /// The next step.
    next_step: NextStepDto,
    /// The single-use login ID for the next step (absent when complete). It works once, for
    /// 5 minutes, for this user at this bank only.
    #[oai(skip_serializing_if_is_none)]
    login_id: Option<String>,
    /// Mamori's user ID.
    user_id: String,
    /// Until when the login ID works.
    #[oai(skip_serializing_if_is_none)]
    expires_at: Option<Timestamp>,
    /// When complete: the signed receipt (JWT, EdDSA; verify with `/.well-known/jwks.json`).
    #[oai(skip_serializing_if_is_none)]
    receipt: Option<String>,
}

impl From<LoginStarted> for LoginStepDto {
    fn from(s: LoginStarted) -> Self {
        Self {
            next_step: s.next_step.into(),
            login_id: s.login_id,
            user_id: s.user_id,
            expires_at: s.expires_at.map(Timestamp),
            receipt: s.receipt,
        }
    }
}

/// A completed login.
#[derive(Debug, Object)]
struct LoginCompletedDto {
    /// Always `complete`.
    next_step: NextStepDto,
    /// Mamori's user ID.
    user_id: String,
    /// Authentication methods used (`pwd`, `otp`).
    amr: Vec<String>,
    /// When the login completed.
    auth_time: Timestamp,
    /// The signed receipt: a JWT (EdDSA, `kid` in the header) with `iss` = `mamori`, `aud` =
    /// the bank's ID, `sub` = the user, `amr`, `auth_time`, `jti` and a 5-minute `exp`. Verify
    /// it offline with the keys at `/.well-known/jwks.json`.
    receipt: String,
}

/// A temporary password from the support desk.
#[derive(Debug, Object)]
struct TemporaryPasswordDto {
    /// Shown this once; hand it to the customer. The next login must change it where the
    /// bank's policy says so.
    temporary_password: String,
}

/// The user's password lock after an unlock.
#[derive(Debug, Object)]
struct UnlockedDto {
    /// Always false after an unlock.
    password_locked: bool,
}

/// The kinds of transaction that can require a fresh OTP (取引認証).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(crate) enum TransactionKindDto {
    /// 振込・振替.
    Transfer,
    /// Pay-easy tax and fee payment (税金・各種料金の払込み).
    Payeasy,
    /// Time-deposit cancellation (定期預金 解約).
    DepositCancellation,
    /// Instalment-savings cancellation (定期積金 解約).
    SavingsCancellation,
    /// Usage-limit change (利用限度額変更).
    LimitChange,
    /// Contract-information change (契約者情報変更).
    ContractChange,
}

impl From<TransactionKindDto> for TransactionKind {
    fn from(kind: TransactionKindDto) -> Self {
        match kind {
            TransactionKindDto::Transfer => Self::Transfer,
            TransactionKindDto::Payeasy => Self::Payeasy,
            TransactionKindDto::DepositCancellation => Self::DepositCancellation,
            TransactionKindDto::SavingsCancellation => Self::SavingsCancellation,
            TransactionKindDto::LimitChange => Self::LimitChange,
            TransactionKindDto::ContractChange => Self::ContractChange,
        }
    }
}

impl From<TransactionKind> for TransactionKindDto {
    fn from(kind: TransactionKind) -> Self {
        match kind {
            TransactionKind::Transfer => Self::Transfer,
            TransactionKind::Payeasy => Self::Payeasy,
            TransactionKind::DepositCancellation => Self::DepositCancellation,
            TransactionKind::SavingsCancellation => Self::SavingsCancellation,
            TransactionKind::LimitChange => Self::LimitChange,
            TransactionKind::ContractChange => Self::ContractChange,
        }
    }
}

/// The payee of a transfer or payment.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct PayeeDto {
    /// 金融機関コード: 1 to 16 characters, none of them control, bidi or zero-width
    /// characters (which would change what the customer's phone shows).
    bank_code: shape::PayeeCode,
    /// 支店コード: 1 to 16 characters, like `bank_code`.
    branch_code: shape::PayeeCode,
    /// 口座番号: 1 to 32 characters, like `bank_code`.
    account_number: shape::AccountNumber,
    /// 受取人名, as the bank shows it: 1 to 100 characters, like `bank_code`.
    account_name: shape::AccountName,
}

/// The transaction being authorised. Its canonical form (keys sorted, no whitespace, every
/// value a string) is hashed with SHA-256 into the receipt's `txn_hash`, so the bank can prove
/// what was authorised and detect a changed amount or payee.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct TransactionDto {
    /// What it is.
    kind: TransactionKindDto,
    /// The amount as a decimal string of half-width digits, e.g. `"150000"` or `"1500.50"`:
    /// up to 18 digits, optionally a point and up to 18 more. No sign, no separators, no
    /// exponent, nothing converted.
    amount: shape::Amount,
    /// ISO 4217 currency, three capital letters; `JPY` when omitted.
    currency: Option<shape::Currency>,
    /// The payee, for transfers and payments.
    payee: Option<PayeeDto>,
}

impl From<TransactionDto> for Transaction {
    fn from(t: TransactionDto) -> Self {
        Self {
            kind: t.kind.into(),
            amount: t.amount.0,
            currency: t.currency.map_or_else(|| "JPY".to_owned(), |c| c.0),
            payee: t.payee.map(|p| Payee {
                bank_code: p.bank_code.0,
                branch_code: p.branch_code.0,
                account_number: p.account_number.0,
                account_name: p.account_name.0,
            }),
        }
    }
}

impl From<Transaction> for TransactionDto {
    fn from(t: Transaction) -> Self {
        Self {
            kind: t.kind.into(),
            amount: Text::new(t.amount),
            currency: Some(Text::new(t.currency)),
            payee: t.payee.map(|p| PayeeDto {
                bank_code: Text::new(p.bank_code),
                branch_code: Text::new(p.branch_code),
                account_number: Text::new(p.account_number),
                account_name: Text::new(p.account_name),
            }),
        }
    }
}

/// A code plus the transaction it authorises.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct TransactionOtpRequest {
    /// The code shown by the token, read like `verifyOtp`'s.
    otp: shape::Otp,
    /// The transaction.
    transaction: TransactionDto,
}

/// An authorised transaction.
#[derive(Debug, Object)]
struct TransactionApprovedDto {
    /// Always `accepted`.
    result: String,
    /// The credential that produced the code.
    credential_id: String,
    /// SHA-256 (hex) of the canonical transaction.
    transaction_hash: String,
    /// The signed receipt: a JWT like completeLogin's, with `amr: ["otp"]`, `txn_kind` and
    /// `txn_hash`.
    receipt: String,
}

#[derive(ApiResponse)]
enum TransactionResponse {
    /// The code was accepted for this transaction and is spent; the receipt carries the
    /// transaction's hash.
    #[oai(status = 200)]
    Ok(Json<TransactionApprovedDto>),
}

#[derive(ApiResponse)]
enum StepResponse {
    /// The password is right: the next step of the login and its login ID, or, when nothing
    /// else is needed, the receipt.
    #[oai(status = 200)]
    Ok(Json<LoginStepDto>),
}

#[derive(ApiResponse)]
enum PasswordChangedResponse {
    /// The password is changed. Inside a login, its next step (with the same login ID, or the
    /// receipt when complete); for a logged-in user, `complete`.
    #[oai(status = 200)]
    Ok(Json<LoginStepDto>),
}

#[derive(ApiResponse)]
enum CompletedResponse {
    /// Logged in: the code is spent, the login ID used up, and the receipt signed.
    #[oai(status = 200)]
    Ok(Json<LoginCompletedDto>),
}

#[derive(ApiResponse)]
enum TemporaryPasswordResponse {
    /// The temporary password, shown this once; the password lock is lifted.
    #[oai(status = 200)]
    Ok(Json<TemporaryPasswordDto>),
}

#[derive(ApiResponse)]
enum UnlockedResponse {
    /// The password lock is lifted and the failure count cleared.
    #[oai(status = 200)]
    Ok(Json<UnlockedDto>),
}

#[OpenApi(tag = "ApiTags::Login")]
impl LoginApi {
    /// Start a login with the password
    ///
    /// Checks the contract number (+ user ID) and login password. The answer is the next
    /// step and a single-use login ID. A wrong password counts toward the bank's lock (5 at
    /// seed 002). An unknown user, a wrong password and a locked user all get the same
    /// `login_failed` (401) with the same body and similar timing; the bank learns more only
    /// through its own getUser. `password_not_managed` (409) at banks that keep passwords
    /// themselves.
    #[oai(
        path = "/v1/banks/:bank_id/logins",
        method = "post",
        operation_id = "startLogin"
    )]
    async fn start_login(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        body: Json<StartLoginRequest>,
    ) -> Result<StepResponse, StartLoginProblem> {
        let caller = &key.0;
        self.state
            .services
            .login
            .start_login(
                caller,
                &meta(&ctx),
                &body.contract_number,
                body.user_id.as_deref(),
                &body.password,
            )
            .await
            .map(|s| StepResponse::Ok(Json(s.into())))
            .map_err(|e| StartLoginProblem::from_error(&e, &ctx))
    }

    /// Complete a login with the OTP
    ///
    /// The login ID from startLogin or changePassword (step `otp_required`, or
    /// `otp_registration_required` once registerCredential has registered the user's token)
    /// and the current code, checked, counted and spent like verifyOtp. The login ID then stops
    /// working; it never outlives its 5 minutes. Errors: `login_expired` (404),
    /// `otp_not_registered` (404, at `otp_registration_required` before registering; the login
    /// stays open), and those of verifyOtp.
    #[oai(
        path = "/v1/banks/:bank_id/logins/:login_id/otp",
        method = "post",
        operation_id = "completeLogin"
    )]
    async fn complete_login(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// The login ID from startLogin.
        login_id: Path<String>,
        body: Json<CompleteLoginRequest>,
    ) -> Result<CompletedResponse, CompleteLoginProblem> {
        let caller = &key.0;
        self.state
            .services
            .login
            .complete_login(caller, &meta(&ctx), &login_id, &body.otp)
            .await
            .map(|c| {
                CompletedResponse::Ok(Json(LoginCompletedDto {
                    next_step: NextStepDto::Complete,
                    user_id: c.user_id,
                    amr: c.amr.into_iter().map(str::to_owned).collect(),
                    auth_time: c.auth_time.into(),
                    receipt: c.receipt,
                }))
            })
            .map_err(|e| CompleteLoginProblem::from_error(&e, &ctx))
    }

    /// Change the login password
    ///
    /// Inside a login (`login_id` of this user's login at step `password_change_required`:
    /// first login, after a reset, or expired), or for a logged-in user (`current_password`).
    /// The new password must follow the bank's rules — each broken rule is listed in
    /// `violations` of `password_rejected` (422) — and must differ from the current password
    /// and the bank's `history` before it (`password_recently_used`). Inside a login, the answer is the login's next step with the same login ID. Errors:
    /// `login_expired` (404), `login_failed` (401, wrong current password; counted).
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<ChangePasswordRequest>,
    ) -> Result<PasswordChangedResponse, ChangePasswordProblem> {
        let caller = &key.0;
        let body = body.0.0;
        let services = &self.state.services;
        match (body.login_id, body.current_password) {
            (Some(login_id), None) => {
                services
                    .login
                    .change_password(caller, &meta(&ctx), &user, &login_id, &body.new_password)
                    .await
            }
            (None, Some(current)) => {
                services
                    .login
                    .change_password_with_current(
                        caller,
                        &meta(&ctx),
                        &user,
                        &current,
                        &body.new_password,
                    )
                    .await
            }
            _ => Err(ServiceError::invalid(
                "send either login_id or current_password",
            )),
        }
        .map(|s| PasswordChangedResponse::Ok(Json(s.into())))
        .map_err(|e| ChangePasswordProblem::from_error(&e, &ctx))
    }

    /// Check a transaction OTP (取引認証)
    ///
    /// A fresh code for a transfer, a Pay-easy payment, a time-deposit or instalment-savings
    /// cancellation, a limit or contract change, checked, counted and spent like verifyOtp.
    /// The receipt carries the SHA-256 of the canonical transaction. At a bank whose policy
    /// approves this kind by push, `validation_failed`.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/transactions/verify",
        method = "post",
        operation_id = "verifyTransactionOtp"
    )]
    async fn verify_transaction_otp(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
        body: Json<TransactionOtpRequest>,
    ) -> Result<TransactionResponse, VerifyTransactionOtpProblem> {
        let caller = &key.0;
        let body = body.0;
        let transaction: Transaction = body.transaction.into();
        self.state
            .services
            .transactions
            .verify_transaction_otp(caller, &meta(&ctx), &user, &body.otp, &transaction)
            .await
            .map(|t| {
                TransactionResponse::Ok(Json(TransactionApprovedDto {
                    result: "accepted".into(),
                    credential_id: t.credential_id,
                    transaction_hash: t.transaction_hash,
                    receipt: t.receipt,
                }))
            })
            .map_err(|e| VerifyTransactionOtpProblem::from_error(&e, &ctx))
    }

    /// Reset a user's password (support desk)
    ///
    /// Issues a temporary password, shown once, and lifts a password lock; the next login
    /// must change it where the bank's policy says so.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/password/reset",
        method = "post",
        operation_id = "resetPassword"
    )]
    async fn reset_password(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
    ) -> Result<TemporaryPasswordResponse, ResetPasswordProblem> {
        let caller = &key.0;
        self.state
            .services
            .support_desk
            .reset_password(caller, &meta(&ctx), &user)
            .await
            .map(|p| {
                TemporaryPasswordResponse::Ok(Json(TemporaryPasswordDto {
                    temporary_password: p,
                }))
            })
            .map_err(|e| ResetPasswordProblem::from_error(&e, &ctx))
    }

    /// Unlock a user's password (support desk)
    ///
    /// Lifts a password lock (ログインパスワードロック) and clears the failure count.
    #[oai(
        path = "/v1/banks/:bank_id/users/:user/password/unlock",
        method = "post",
        operation_id = "unlockUser"
    )]
    async fn unlock_user(
        &self,
        ctx: RequestContext,
        key: BankKey,
        /// The bank's ID.
        #[oai(name = "bank_id")]
        _bank_id: Path<BankId>,
        /// Mamori's user ID.
        user: Path<String>,
    ) -> Result<UnlockedResponse, UnlockUserProblem> {
        let caller = &key.0;
        self.state
            .services
            .support_desk
            .unlock_user(caller, &meta(&ctx), &user)
            .await
            .map(|()| {
                UnlockedResponse::Ok(Json(UnlockedDto {
                    password_locked: false,
                }))
            })
            .map_err(|e| UnlockUserProblem::from_error(&e, &ctx))
    }
}
