//! Problem responses of the bank and token operations, and the mapping from service errors.
//!
//! Each family lists only the statuses its operations can return; each operation's
//! description says which codes, and why.

use mamori_domain::ErrorCode;
use mamori_service::ServiceError;
use poem::http::StatusCode;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use crate::context::RequestContext;
use crate::problem::{Problem, RETRY_AFTER_SECONDS};

/// The problem body for a service error, logged once here when it is the server's fault.
pub fn problem_of(err: &ServiceError, ctx: &RequestContext) -> Problem {
    match err {
        ServiceError::Rejected {
            code,
            attempts_left,
        } => Problem::new(*code, ctx).with_attempts_left(*attempts_left),
        ServiceError::RateLimited {
            retry_after_seconds,
        } => {
            let mut problem = Problem::new(ErrorCode::RateLimited, ctx);
            problem.retry_after = Some(*retry_after_seconds);
            problem
        }
        ServiceError::PasswordRejected(rules) => {
            let mut problem = Problem::new(ErrorCode::PasswordRejected, ctx);
            problem.violations = Some(
                rules
                    .iter()
                    .map(|rule| crate::problem::Violation {
                        code: rule.code().to_owned(),
                        message: rule.message(ctx.lang),
                    })
                    .collect(),
            );
            problem
        }
        ServiceError::FileRejected(faults) => {
            let mut problem = Problem::new(ErrorCode::ImportInvalid, ctx);
            problem.errors = Some(
                faults
                    .iter()
                    .map(|fault| crate::problem::LineFault {
                        line: fault.line,
                        code: fault.fault.code().to_owned(),
                        message: fault.fault.message(ctx.lang),
                    })
                    .collect(),
            );
            problem
        }
        ServiceError::Invalid(message) => {
            let base = ErrorCode::ValidationFailed.detail(ctx.lang);
            Problem::new(ErrorCode::ValidationFailed, ctx)
                .with_detail(format!("{base} ({message})"))
        }
        ServiceError::Unavailable(why) => {
            tracing::warn!(error = %why, "database unavailable");
            Problem::new(ErrorCode::ServiceUnavailable, ctx)
        }
        ServiceError::Internal(why) => {
            tracing::error!(error = %why, "internal error");
            Problem::new(ErrorCode::InternalError, ctx)
        }
    }
}

macro_rules! problem_family {
    ($(#[$doc:meta])* $name:ident {
        $($variant:ident = $status:literal, $desc:literal;)*
        $(@limited $limited:literal;)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, ApiResponse)]
        pub enum $name {
            $(
                #[doc = $desc]
                #[oai(status = $status, content_type = "application/problem+json")]
                $variant(Json<Problem>),
            )*
            $(
                #[doc = $limited]
                #[oai(status = 429, content_type = "application/problem+json")]
                TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u32),
            )?
            /// The database is unreachable (`service_unavailable`). Nothing was changed or
            /// counted; retry after `Retry-After` seconds.
            #[oai(status = 503, content_type = "application/problem+json")]
            Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
            /// An unexpected error (`internal_error`); quote the request ID to support.
            #[oai(status = 500, content_type = "application/problem+json")]
            Internal(Json<Problem>),
        }

        impl $name {
            /// The response for a service error.
            pub fn from_error(err: &ServiceError, ctx: &RequestContext) -> Self {
                let problem = problem_of(err, ctx);
                match StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR) {
                    $(s if s.as_u16() == $status => Self::$variant(Json(problem)),)*
                    $(StatusCode::TOO_MANY_REQUESTS => {
                        let _ = $limited;
                        let retry_after = problem.retry_after_seconds();
                        Self::TooManyRequests(Json(problem), retry_after)
                    })?
                    StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable(Json(problem), RETRY_AFTER_SECONDS),
                    _ => Self::Internal(Json(problem)),
                }
            }
        }
    };
}

problem_family! {
    /// Problems of user management.
    UserProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`).";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such bank or user for this key (`not_found`).";
        Conflict = 409, "The user exists already (`user_already_exists`), or the bank keeps passwords itself (`password_not_managed`).";
        Unprocessable = 422, "The initial password breaks the bank's rules (`password_rejected`, with `violations`).";
    }
}

problem_family! {
    /// Problems of reading a user or their OTP status: nothing is checked or changed, so only
    /// the key and the user can be wrong.
    LookupProblem {
        BadRequest = 400, "A malformed contract number or user ID in the query (`bad_request`, `validation_failed`).";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such bank or user for this key (`not_found`).";
    }
}

problem_family! {
    /// Problems of the login flow.
    LoginProblem {
        BadRequest = 400, "Malformed input (`bad_request`, `validation_failed`, `otp_malformed`).";
        Unauthorized = 401, "A bad API key (`unauthorized`), or `login_failed`: the contract number, user ID or password is wrong or the user is locked — one answer for all, by design.";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "Unknown, expired, used or out-of-step login ID (`login_expired`), unknown user (`not_found`), or no token (`otp_not_registered`).";
        Conflict = 409, "`otp_already_used` (wait for the next code; not counted) or `password_not_managed`.";
        Unprocessable = 422, "`otp_invalid` (with `attempts_left`) or `password_rejected` (with `violations`).";
        Locked = 423, "The token is locked (`otp_locked`) or suspended (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of the token operations at a bank.
    OtpProblem {
        BadRequest = 400, "Malformed input (`bad_request`, `validation_failed`, `otp_malformed`, `credential_id_malformed`). Not counted as a failure.";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such user, no registered token, or no such credential (`not_found`, `otp_not_registered`, `credential_unknown`).";
        Conflict = 409, "Already used or already registered (`otp_already_used`, `credential_already_registered`). Not counted as a failure.";
        Unprocessable = 422, "The code is wrong or the resync failed (`otp_invalid`, `resync_failed`, `credential_kind_not_allowed`); `attempts_left` says how many tries remain.";
        Locked = 423, "Locked at this bank (`otp_locked`) or suspended on the platform (`credential_suspended`); unlockCredential of a token suspended on the platform: `platform_operator_required`.";
    }
}

problem_family! {
    /// Problems of registering a token (registerCredential, changeDevice).
    RegistrationProblem {
        BadRequest = 400, "Malformed input (`bad_request`, `validation_failed`, `otp_malformed`, `credential_id_malformed`). Not counted.";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such user, no registered token, or no such credential (`not_found`, `otp_not_registered`, `credential_unknown`).";
        Conflict = 409, "Already used or already registered (`otp_already_used`, `credential_already_registered`). Not counted as a failure.";
        Unprocessable = 422, "The code is wrong (`otp_invalid`, with `attempts_left` for the old token of a device change) or the bank does not allow this kind of token (`credential_kind_not_allowed`). A wrong code of the token being registered counts against this user's registration attempts only, never against the token.";
        Locked = 423, "The old token is locked at this bank (`otp_locked`), or the token is suspended on the platform (`credential_suspended`).";
        @limited "This user used up their registration attempts for the hour, or this client its budget of wrong registration codes (`rate_limited`); retry after `Retry-After` seconds.";
    }
}

problem_family! {
    /// Problems of the bank's audit trail.
    AuditProblem {
        BadRequest = 400, "A bad cursor or limit (`bad_request`, `validation_failed`).";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such bank for this key (`not_found`).";
    }
}

problem_family! {
    /// Problems of token provisioning.
    TokenProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`).";
        @limited "Too many tokens provisioned from this address (`rate_limited`); retry after `Retry-After` seconds (the end of the hour's window).";
    }
}

problem_family! {
    /// Problems of issuing a token by mail.
    IssueProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`: a bad mail address or activation password).";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "This bank does not issue tokens by mail (`self_issue_disabled`); or the bank is suspended (`bank_suspended`).";
        NotFound = 404, "No such bank or user for this key (`not_found`).";
        Conflict = 409, "The user has a token in use (`credential_already_registered`), or a concurrent issue for the user won (`token_not_activated`).";
    }
}

problem_family! {
    /// Problems of creating a push approval.
    PushCreateProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`: the transaction, or a `display` text not 1 to 500 characters).";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank does not use push approval (`push_disabled`); or the bank is suspended (`bank_suspended`).";
        NotFound = 404, "No such user for this key (`not_found`), or no registered token (`otp_not_registered`).";
        Conflict = 409, "The registered token cannot receive push approvals: it has no device key (`push_unavailable`).";
        Locked = 423, "The token is locked at this bank (`otp_locked`) or suspended on the platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of activating an issued token.
    ActivationProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`).";
        Gone = 410, "The issue expired, was already activated, or was replaced (`activation_expired`); the bank must issue again.";
        Unprocessable = 422, "The service ID, user ID or activation password is wrong (`activation_failed`, with `attempts_left`).";
        Locked = 423, "Too many wrong activation passwords (`activation_locked`); the bank must issue again.";
        @limited "Too many activations from this address (`rate_limited`); retry after `Retry-After` seconds (the end of the hour's window).";
    }
}

problem_family! {
    /// Problems of starting OTP use with an issued token.
    StartProblem {
        BadRequest = 400, "Malformed input (`bad_request`, `validation_failed`, `otp_malformed`). Not counted.";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "This bank does not issue tokens by mail (`self_issue_disabled`); or the bank is suspended (`bank_suspended`).";
        NotFound = 404, "No such user (`not_found`), or no open issue (`otp_not_registered`).";
        Conflict = 409, "The app has not activated the token yet (`token_not_activated`), the code was used (`otp_already_used`), or a token is in use (`credential_already_registered`). Not counted.";
        Unprocessable = 422, "The code is wrong (`otp_invalid`), counted on the token.";
        Locked = 423, "The token is suspended on the platform (`credential_suspended`).";
        @limited "This user used up their registration attempts for the hour (`rate_limited`); retry after `Retry-After` seconds (the end of the hour's window).";
    }
}

problem_family! {
    /// Problems of releasing OTP use.
    ReleaseProblem {
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "This bank does not issue tokens by mail (`self_issue_disabled`); or the bank is suspended (`bank_suspended`).";
        NotFound = 404, "No such user (`not_found`), or nothing to release (`otp_not_registered`).";
    }
}

problem_family! {
    /// Problems of the bank's outbox.
    OutboxProblem {
        BadRequest = 400, "A bad limit (`bad_request`, `validation_failed`).";
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such bank for this key (`not_found`).";
    }
}

problem_family! {
    /// Problems of listing a token's banks.
    CredentialBanksProblem {
        BadRequest = 400, "Malformed input (`bad_request`, `credential_id_malformed`, `otp_malformed`). Not counted.";
        Conflict = 409, "The code was already used (`otp_already_used`); wait for the next code. Not counted.";
        Unprocessable = 422, "The code is wrong, or no token has this credential ID (`otp_invalid`, the same answer for both). Not counted towards any lock: this route has no bank key, and a stranger must not be able to suspend a token.";
        Locked = 423, "The token is suspended on the whole platform (`credential_suspended`).";
        @limited "Too many listings from this address or for this credential (`rate_limited`); retry after `Retry-After` seconds (the end of the hour's window).";
    }
}

problem_family! {
    /// Problems of reading a push approval.
    PushReadProblem {
        Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
        Forbidden = 403, "The bank is suspended by the platform's operators (`bank_suspended`); nothing was changed.";
        NotFound = 404, "No such approval for this key (`not_found`).";
    }
}

problem_family! {
    /// Problems of a device listing its approvals.
    DeviceListProblem {
        BadRequest = 400, "A malformed credential ID (`credential_id_malformed`) or `wait` (`bad_request`, `validation_failed`).";
        Forbidden = 403, "The device signature is missing or wrong, by another key, or its time is more than 5 minutes off (`device_signature_invalid`).";
        NotFound = 404, "No such credential (`credential_unknown`).";
        Conflict = 409, "The credential has no device key (`push_unavailable`).";
    }
}

problem_family! {
    /// Problems of a device answering an approval. None of them changes the approval, except
    /// `push_number_mismatch`, which denies it.
    PushAnswerProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`).";
        Forbidden = 403, "The signature is not the credential's device key over this answer, or its time is more than 5 minutes off (`device_signature_invalid`).";
        NotFound = 404, "No such approval for this credential (`not_found`), or the token is no longer registered at the bank (`otp_not_registered`).";
        Conflict = 409, "The approval was already answered or cancelled (`push_already_answered`).";
        Gone = 410, "No answer came in time; the transaction is cancelled (`push_approval_expired`).";
        Unprocessable = 422, "The answer is for another transaction (`push_transaction_mismatch`), or the number is wrong (`push_number_mismatch`; the approval is denied).";
        Locked = 423, "The token is locked at the bank (`otp_locked`) or suspended on the platform (`credential_suspended`).";
    }
}

problem_family! {
    /// Problems of signing in to the admin console.
    AdminSignInProblem {
        BadRequest = 400, "The body is not valid (`bad_request`, `validation_failed`).";
        Unauthorized = 401, "`admin_login_failed`: the operator ID, password or code is wrong, or the operator is locked — one answer for all, by design.";
    }
}

problem_family! {
    /// Problems of importing a token seed file.
    AdminImportProblem {
        BadRequest = 400, "The body is not valid (`bad_request`), or the pre-shared key is not 32, 48 or 64 hex digits (`validation_failed`).";
        Unauthorized = 401, "No admin session (`admin_session_required`).";
        Forbidden = 403, "Not a platform admin (`forbidden`), setup not done (`admin_setup_required`), or the anti-forgery token is wrong (`csrf_token_invalid`).";
        PayloadTooLarge = 413, "The file is larger than an import takes (`payload_too_large`): split it.";
        Unprocessable = 422, "The file cannot be imported whole (`import_invalid`): `errors` lists every fault with its line. Nothing was imported.";
    }
}

problem_family! {
    /// Problems of the admin console's operations.
    AdminProblem {
        BadRequest = 400, "The body or a parameter is not valid (`bad_request`, `validation_failed`, `otp_malformed`, `credential_id_malformed`).";
        Unauthorized = 401, "No admin session: not signed in, signed out, or 30 minutes idle (`admin_session_required`); or a wrong current password (`admin_login_failed`).";
        Forbidden = 403, "The role does not allow it (`forbidden`), the first login's setup is not done (`admin_setup_required`), or the anti-forgery token is missing or wrong (`csrf_token_invalid`).";
        NotFound = 404, "No such bank, user, credential, operator or approval for this operator (`not_found`, `otp_not_registered`); another bank's answer the same.";
        Conflict = 409, "`bank_already_exists`, `operator_already_exists`, `bank_file_managed` (change the bank's file instead), `push_already_answered`.";
        Unprocessable = 422, "A new password breaks the rules (`password_rejected`, with `violations`), or a code is wrong (`otp_invalid`).";
        Locked = 423, "The token is suspended on the whole platform: a bank's unlock cannot lift it (`platform_operator_required`); a platform admin lifts the suspension on the credential's page.";
    }
}
