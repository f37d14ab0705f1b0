//! RFC 9457 problem details: the one error body of the whole API.
//!
//! Every 4xx/5xx answer, whether a handler's rejection or the framework's own parse error, is
//! `application/problem+json` with a stable `code` from [`ErrorCode`], a localised `detail` and
//! the `request_id` to quote to support. Never a stack trace, SQL or secret.

use std::borrow::Cow;
use std::sync::LazyLock;

use mamori_domain::ErrorCode;
use mamori_domain::error_code::Lang;
use poem::http::StatusCode;
use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::context::RequestContext;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// A URI that identifies the problem type: `urn:mamori:problem:<code>`.
    #[oai(rename = "type")]
    pub problem_type: String,
    /// A short, stable English summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A human-readable explanation, in Japanese or English by `Accept-Language`.
    pub detail: String,
    /// The stable, machine-readable error code. Branch on this, never on `detail`.
    pub code: ApiErrorCode,
    /// The request's ID (also in the `X-Request-Id` header); quote it to support.
    pub request_id: String,
    /// Wrong attempts left before the token or user is locked, where that applies.
    #[oai(skip_serializing_if_is_none)]
    pub attempts_left: Option<u32>,
    /// For `password_rejected`: every password rule the new password breaks.
    #[oai(skip_serializing_if_is_none)]
    pub violations: Option<Vec<Violation>>,
    /// For `import_invalid`: every fault in the file, with its line.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<LineFault>>,
    /// Seconds the client should wait (`Retry-After`), when it is not the default.
    #[oai(skip)]
    pub retry_after: Option<u32>,
}

/// A fault on one line of an uploaded file. The message never quotes the file.
#[derive(Debug, Clone, Object)]
pub struct LineFault {
    /// 1-based line number.
    pub line: u32,
    /// Stable fault code, e.g. `serial_taken`, `mac_mismatch`, `secret_length`.
    pub code: String,
    /// The fault in the caller's language.
    pub message: String,
}

/// One broken rule.
#[derive(Debug, Clone, Object)]
pub struct Violation {
    /// Stable rule code, e.g. `password_too_short`, `password_needs_digit`,
    /// `password_recently_used`.
    pub code: String,
    /// The rule in the caller's language, to show the customer.
    pub message: String,
}

impl Problem {
    /// The problem for `code` in the caller's language.
    pub fn new(code: ErrorCode, ctx: &RequestContext) -> Self {
        Self::with_lang(code, ctx.lang, ctx.request_id.clone())
    }

    /// The problem for `code` in a given language.
    pub fn with_lang(code: ErrorCode, lang: Lang, request_id: String) -> Self {
        Self {
            problem_type: format!("urn:mamori:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: status_of(code).as_u16(),
            detail: code.detail(lang).to_owned(),
            code: ApiErrorCode(code),
            request_id,
            attempts_left: None,
            violations: None,
            errors: None,
            retry_after: None,
        }
    }

    /// Replaces the detail (e.g. to say which field was wrong).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Adds the number of attempts left.
    pub fn with_attempts_left(mut self, attempts_left: Option<u32>) -> Self {
        self.attempts_left = attempts_left;
        self
    }

    /// What `Retry-After` says with this problem.
    pub fn retry_after_seconds(&self) -> u32 {
        self.retry_after.unwrap_or(RETRY_AFTER_SECONDS)
    }

    /// The problem as a complete HTTP response.
    pub fn into_response(self) -> poem::Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry =
            self.code.0 == ErrorCode::ServiceUnavailable || self.code.0 == ErrorCode::RateLimited;
        let retry_after = self.retry_after_seconds();
        let body = self.to_json_string();
        let mut builder = poem::Response::builder()
            .status(status)
            .content_type(PROBLEM_JSON);
        if retry {
            builder = builder.header("retry-after", retry_after.to_string());
        }
        builder.body(body)
    }
}

/// What `Retry-After` says when the database is unavailable (and for a rate limit whose window
/// is not known).
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// The HTTP status each error code is answered with.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        BadRequest | ValidationFailed | OtpMalformed | CredentialIdMalformed => {
            StatusCode::BAD_REQUEST
        }
        Unauthorized | LoginFailed | AdminLoginFailed | AdminSessionRequired => {
            StatusCode::UNAUTHORIZED
        }
        SelfIssueDisabled
        | PushDisabled
        | DeviceSignatureInvalid
        | AdminSetupRequired
        | Forbidden
        | CsrfTokenInvalid
        | BankSuspended => StatusCode::FORBIDDEN,
        NotFound | CredentialUnknown | OtpNotRegistered | LoginExpired => StatusCode::NOT_FOUND,
        ActivationExpired | PushApprovalExpired => StatusCode::GONE,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UriTooLong => StatusCode::URI_TOO_LONG,
        CredentialAlreadyRegistered
        | UserAlreadyExists
        | IdempotencyKeyInUse
        | OtpAlreadyUsed
        | PasswordNotManaged
        | TokenNotActivated
        | PushUnavailable
        | PushAlreadyAnswered
        | BankFileManaged
        | BankAlreadyExists
        | OperatorAlreadyExists => StatusCode::CONFLICT,
        OtpInvalid
        | ResyncFailed
        | IdempotencyKeyReused
        | CredentialKindNotAllowed
        | PasswordRejected
        | ActivationFailed
        | PushTransactionMismatch
        | PushNumberMismatch
        | PolicyInvalid
        | ImportInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        OtpLocked | CredentialSuspended | PlatformOperatorRequired | ActivationLocked => {
            StatusCode::LOCKED
        }
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// [`ErrorCode`] as it appears in the spec: a string enum listing every stable code with its
/// meaning, so banks can generate exhaustive handling from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiErrorCode(pub ErrorCode);

static ERROR_CODE_DOC: LazyLock<String> = LazyLock::new(|| {
    let mut doc = String::from(
        "Stable error code. Codes are never renamed or reused; new codes may be added.\n\n",
    );
    for code in ErrorCode::ALL {
        doc.push_str(&format!(
            "- `{}` ({}): {}\n",
            code.as_str(),
            status_of(*code).as_u16(),
            code.detail(Lang::En)
        ));
    }
    doc
});

impl Type for ApiErrorCode {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "ErrorCode".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
            description: Some(ERROR_CODE_DOC.as_str()),
            enum_items: ErrorCode::ALL
                .iter()
                .map(|c| Value::String(c.as_str().to_owned()))
                .collect(),
            ..MetaSchema::new("string")
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for ApiErrorCode {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.as_str().to_owned()))
    }
}

impl ParseFromJSON for ApiErrorCode {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => ErrorCode::parse(&s)
                .map(ApiErrorCode)
                .ok_or_else(|| ParseError::custom(format!("unknown error code {s:?}"))),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

/// Maps an error from the framework (routing, parsing, size limits) to its problem.
pub fn code_for_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::URI_TOO_LONG => ErrorCode::UriTooLong,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
        s if s.is_client_error() => ErrorCode::BadRequest,
        _ => ErrorCode::InternalError,
    }
}
