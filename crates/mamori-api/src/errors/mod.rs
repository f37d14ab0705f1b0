//! The problem responses of every operation, and the mapping from service errors.
//!
//! Each operation has its own family listing exactly the statuses it can answer with, and
//! each status's description names in backticks every `code` that status can carry for that
//! operation and when: a bank generating a client from the spec learns every answer, and no
//! answer it cannot get. The tests' spec referee holds every answer any test sees to these
//! lists. Two operations share a family only where both lists and all texts are the same.

mod admin;
mod bank;
mod login;
mod push;
mod self_issue;
mod token;

pub use admin::*;
pub use bank::*;
pub use login::*;
pub use push::*;
pub use self_issue::*;
pub use token::*;

use mamori_domain::ErrorCode;
use mamori_service::ServiceError;
use poem_openapi::payload::Json;

use crate::context::RequestContext;
use crate::problem::Problem;

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

/// Declares one operation's problem family: an `ApiResponse` enum with a variant per listed
/// status, whose description in the spec is the line's text; plus 414 (every request passes
/// the edge's URI limit), 503 and 500 (every operation uses the database); and `from_error`,
/// which answers a service error with the variant of its status. A status the family does not
/// list falls to 500 (see [`unlisted`]): a family missing a status its operation really
/// returns is a bug the tests' spec referee reports.
///
/// A line is `Variant = status, text;` where the text is one or more parts separated by
/// commas, each a string literal or one of the standard sentences:
/// - `@bank_suspended` — the bank's API keys are suspended (`bank_suspended`);
/// - `@csrf` — a state-changing admin request without the session's anti-forgery token;
/// - `@setup` — an operator who has not finished the first login's setup;
/// - `@malformed_key`, `@key_in_use`, `@key_reused` — the three answers of the
///   `Idempotency-Key` header, for the 400, 409 and 422 lines of a bank's POST.
///
/// Whole standard lines:
/// - `@bank_key;` — 401 `unauthorized`, the bank's API key;
/// - `@admin_session;` — 401 `admin_session_required`, the admin console's session;
/// - `@limited text;` — 429 `rate_limited` with `Retry-After`.
///
/// And exactly one of what the edge answers before the handler, by the request's shape:
/// - `@json_body;` — 413 (`payload_too_large`), 414, 415 (`unsupported_media_type`);
///   `@json_body "text";` where the 413 is a limit of the operation's own;
/// - `@no_body;` — 413, 414: a POST or DELETE without a body still has its body limited;
/// - `@read;` — 414: a GET.
macro_rules! problem_family {
    ($(#[$doc:meta])* $name:ident { $($lines:tt)* }) => {
        $crate::errors::problem_family!(@lines [$(#[$doc])* $name] [] [] [] $($lines)*);
    };

    // Whole standard lines.
    (@lines $head:tt $done:tt $limited:tt $edge:tt @bank_key; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done $limited $edge
            Unauthorized = 401, "The API key is missing, unknown or revoked (`unauthorized`).";
            $($rest)*);
    };
    (@lines $head:tt $done:tt $limited:tt $edge:tt @admin_session; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done $limited $edge
            Unauthorized = 401, "No admin session (`admin_session_required`): not signed in, signed out, 30 minutes idle, or the operator was locked meanwhile.";
            $($rest)*);
    };
    (@lines $head:tt $done:tt [] $edge:tt @limited $text:literal; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done [$text] $edge $($rest)*);
    };

    // The edge's answers, by the request's shape.
    (@lines $head:tt $done:tt $limited:tt [] @json_body; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done $limited []
            @json_body "The body is larger than 64 KiB (`payload_too_large`); refused before it is read.";
            $($rest)*);
    };
    (@lines $head:tt $done:tt $limited:tt [] @no_body; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done $limited [edge]
            PayloadTooLarge = 413, "A body larger than 64 KiB (`payload_too_large`); this operation takes none.";
            UriTooLong = 414, "The path and query are longer than 4 KiB (`uri_too_long`).";
            $($rest)*);
    };
    (@lines $head:tt $done:tt $limited:tt [] @read; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done $limited [edge]
            UriTooLong = 414, "The path and query are longer than 4 KiB (`uri_too_long`).";
            $($rest)*);
    };
    // A body with a limit of its own, which the text says.
    (@lines $head:tt $done:tt $limited:tt [] @json_body $limit:literal; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head $done $limited [edge]
            PayloadTooLarge = 413, $limit;
            UriTooLong = 414, "The path and query are longer than 4 KiB (`uri_too_long`).";
            UnsupportedMediaType = 415, "The body is not sent as `application/json` (`unsupported_media_type`): the `Content-Type` header is missing or names another type. Nothing was read.";
            $($rest)*);
    };

    // A status line: its text, part by part.
    (@lines $head:tt $done:tt $limited:tt $edge:tt $variant:ident = $status:literal, $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge [$variant $status] [] $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] @bank_suspended $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)*]
            "The bank is suspended by the platform's operators (`bank_suspended`)." $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] @csrf $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)*]
            "The `X-CSRF-Token` header is missing or is not this session's anti-forgery token (`csrf_token_invalid`)." $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] @setup $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)*]
            "The first login's setup is not finished: replace the one-time password, then enroll the authenticator app (`admin_setup_required`)." $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] @malformed_key $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)*]
            "`bad_request` also answers a malformed `Idempotency-Key` header." $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] @key_in_use $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)*]
            "A request with this `Idempotency-Key` is still being answered (`idempotency_key_in_use`): retry shortly to get its answer." $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] @key_reused $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)*]
            "This `Idempotency-Key` was used with a different request (`idempotency_key_reused`); nothing was done." $($rest)*);
    };
    (@text $head:tt $done:tt $limited:tt $edge:tt $line:tt [$($part:literal)*] $text:literal, $($rest:tt)*) => {
        $crate::errors::problem_family!(@text $head $done $limited $edge $line [$($part)* $text] $($rest)*);
    };
    (@text $head:tt [$($done:tt)*] $limited:tt $edge:tt [$variant:ident $status:literal] [$($part:literal)*] $text:literal; $($rest:tt)*) => {
        $crate::errors::problem_family!(@lines $head [$($done)* [$variant $status [$($part)* $text]]] $limited $edge $($rest)*);
    };

    // Every line read: the enum and its mapping.
    (@lines [$(#[$doc:meta])* $name:ident]
        [$([$variant:ident $status:literal [$($part:literal)*]])*]
        [$($limited:literal)?]
        [edge]
    ) => {
        $(#[$doc])*
        #[derive(Debug, poem_openapi::ApiResponse)]
        pub enum $name {
            $(
                $(#[doc = $part])*
                #[oai(status = $status, content_type = "application/problem+json")]
                $variant(poem_openapi::payload::Json<$crate::problem::Problem>),
            )*
            $(
                #[doc = $limited]
                #[oai(status = 429, content_type = "application/problem+json")]
                TooManyRequests(
                    poem_openapi::payload::Json<$crate::problem::Problem>,
                    #[oai(header = "Retry-After")] u32,
                ),
            )?
            /// An unexpected error (`internal_error`); quote the request ID to support.
            #[oai(status = 500, content_type = "application/problem+json")]
            Internal(poem_openapi::payload::Json<$crate::problem::Problem>),
            /// The database is unreachable (`service_unavailable`). Nothing was changed or
            /// counted; retry after `Retry-After` seconds.
            #[oai(status = 503, content_type = "application/problem+json")]
            Unavailable(
                poem_openapi::payload::Json<$crate::problem::Problem>,
                #[oai(header = "Retry-After")] u32,
            ),
        }

        impl $name {
            /// The response for a service error.
            pub fn from_error(
                err: &mamori_service::ServiceError,
                ctx: &$crate::context::RequestContext,
            ) -> Self {
                use poem_openapi::payload::Json;
                let problem = $crate::errors::problem_of(err, ctx);
                match problem.status {
                    $($status => Self::$variant(Json(problem)),)*
                    $(429 => {
                        let _ = $limited;
                        let retry_after = problem.retry_after_seconds();
                        Self::TooManyRequests(Json(problem), retry_after)
                    })?
                    500 => Self::Internal(Json(problem)),
                    503 => Self::Unavailable(Json(problem), $crate::problem::RETRY_AFTER_SECONDS),
                    _ => Self::Internal($crate::errors::unlisted(stringify!($name), problem)),
                }
            }
        }
    };
}
pub(crate) use problem_family;

/// A problem whose status the operation's family does not list: a bug in the family (the
/// spec promises fewer answers than the code gives), answered as a 500 that keeps the code,
/// so the tests' spec referee names it, and logged loudly.
pub(crate) fn unlisted(family: &str, mut problem: Problem) -> Json<Problem> {
    tracing::error!(
        family,
        status = problem.status,
        code = problem.code.0.as_str(),
        "a problem its operation's family does not list"
    );
    problem.status = 500;
    Json(problem)
}

#[cfg(test)]
mod tests {
    use mamori_domain::ErrorCode;
    use mamori_domain::error_code::Lang;
    use mamori_service::ServiceError;

    use super::{CurrentCodeProblem, ProvisionCredentialProblem};
    use crate::context::RequestContext;

    fn ctx() -> RequestContext {
        RequestContext {
            request_id: "req-1".into(),
            lang: Lang::En,
            client_addr: None,
            client_key: None,
        }
    }

    #[test]
    fn a_service_error_is_answered_with_the_variant_of_its_status() {
        let locked = CurrentCodeProblem::from_error(&ServiceError::locked(), &ctx());
        let CurrentCodeProblem::Locked(problem) = locked else {
            panic!("{locked:?}");
        };
        assert_eq!(
            (problem.status, problem.code.0),
            (423, ErrorCode::OtpLocked)
        );

        let down = ServiceError::Unavailable("gone".into());
        assert!(matches!(
            CurrentCodeProblem::from_error(&down, &ctx()),
            CurrentCodeProblem::Unavailable(_, crate::problem::RETRY_AFTER_SECONDS)
        ));
    }

    #[test]
    fn a_rate_limit_says_when_its_window_ends() {
        let limited = ServiceError::RateLimited {
            retry_after_seconds: 1234,
        };
        assert!(matches!(
            ProvisionCredentialProblem::from_error(&limited, &ctx()),
            ProvisionCredentialProblem::TooManyRequests(_, 1234)
        ));
    }

    /// A code whose status the family does not list (410 here) is a bug in the family: a 500
    /// throughout (the body agrees with the response), keeping the code so the spec referee
    /// names it. (A code of a listed status but not named there is the referee's to find.)
    #[test]
    fn a_status_the_family_lacks_is_a_500_that_names_the_code() {
        let unlisted = ServiceError::rejected(ErrorCode::ActivationExpired);
        let answer = CurrentCodeProblem::from_error(&unlisted, &ctx());
        let CurrentCodeProblem::Internal(problem) = answer else {
            panic!("{answer:?}");
        };
        assert_eq!(
            (problem.status, problem.code.0),
            (500, ErrorCode::ActivationExpired)
        );
    }
}
