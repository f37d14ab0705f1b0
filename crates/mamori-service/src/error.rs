//! Why a use case did not succeed, in terms the HTTP edge maps to a problem: a rule's stable
//! code, a field that broke a rule, or the database being away. Never an HTTP type.

use mamori_domain::ErrorCode;
use mamori_domain::password::PasswordRule;
use mamori_store::StoreError;

/// Why a use case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request broke a rule; the code says which. Nothing was changed unless the rule
    /// itself says so (a wrong code is counted).
    #[error("{code}")]
    Rejected {
        /// The stable error code.
        code: ErrorCode,
        /// Attempts left before a lock, where that applies.
        attempts_left: Option<u32>,
    },
    /// A rate limit's window is used up (`rate_limited`); nothing was changed or counted.
    #[error("rate limited for {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_seconds: u32,
    },
    /// A new password breaks the bank's password rules (every broken rule listed).
    #[error("password rejected")]
    PasswordRejected(Vec<PasswordRule>),
    /// An uploaded file cannot be taken whole; every fault is listed with its line.
    #[error("file refused: {} faults", .0.len())]
    FileRejected(Vec<mamori_import::LineError>),
    /// A field's value breaks a rule; the message says which field and why.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database is unreachable: nothing can be concluded and nothing was counted.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A rejection with no attempt count.
    pub fn rejected(code: ErrorCode) -> Self {
        Self::Rejected {
            code,
            attempts_left: None,
        }
    }

    /// A used-up rate limit: the client may retry when the window `now` falls in ends.
    pub fn rate_limited(
        limit: mamori_domain::RateLimit,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self::RateLimited {
            retry_after_seconds: limit.retry_after_seconds(now),
        }
    }

    /// A field error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// The binding is locked: no attempts left.
    pub fn locked() -> Self {
        Self::Rejected {
            code: ErrorCode::OtpLocked,
            attempts_left: Some(0),
        }
    }

    /// A bug or corrupt data, with what was being done.
    pub(crate) fn internal(what: impl std::fmt::Display) -> Self {
        Self::Internal(what.to_string())
    }

    /// The stable code this error maps to.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected { code, .. } => *code,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Invalid(_) => ErrorCode::ValidationFailed,
            Self::PasswordRejected(_) => ErrorCode::PasswordRejected,
            Self::FileRejected(_) => ErrorCode::ImportInvalid,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// Attempts left before a lock, where that applies.
    pub fn attempts_left(&self) -> Option<u32> {
        match self {
            Self::Rejected { attempts_left, .. } => *attempts_left,
            _ => None,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(e) => ServiceError::Unavailable(e.to_string()),
            StoreError::Conflict(e) => ServiceError::Unavailable(format!("write conflict: {e}")),
            StoreError::Refused(e) => ServiceError::Internal(e.to_string()),
            StoreError::Corrupt(e) => ServiceError::Internal(e),
            err @ (StoreError::NoAuditKey | StoreError::NoAccountMac | StoreError::Unkeyed(_)) => {
                ServiceError::Internal(err.to_string())
            }
        }
    }
}
