//! The admin console's API (`/v1/admin/…`, tag Admin): what the SPA in `web-admin/` calls.
//!
//! Authentication is the session cookie set by `createAdminSession` (`HttpOnly`,
//! `SameSite=Strict`, `Secure` except on loopback), checked on every request by the
//! [`AdminSession`] security scheme, which also requires the session's anti-forgery token in
//! `X-CSRF-Token` on every state-changing request. A bank's API key never opens these routes,
//! and the session never opens a bank's.

pub(crate) mod banks;
pub(crate) mod customers;
pub(crate) mod session;
pub(crate) mod tokens;
pub(crate) mod trails;

use mamori_service::{OperatorCaller, RequestMeta, ServiceError};
use poem::Request;
use poem::http::Method;
use poem_openapi::auth::ApiKey;
use poem_openapi::{Object, SecurityScheme, Tags};

use crate::context::RequestContext;
use crate::errors::problem_of;
use crate::state::AppState;
use crate::strict::StrictString;

/// The name of the admin session cookie.
pub const SESSION_COOKIE: &str = "mamori_admin";

/// The header carrying the session's anti-forgery token.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

#[derive(Tags)]
pub(crate) enum AdminTags {
    /// The admin console (operators' session cookie; not for banks).
    Admin,
}

/// The admin console's session: the `mamori_admin` cookie set by `createAdminSession`. A
/// state-changing request must also carry the session's anti-forgery token (`csrf_token` of
/// the session) in the `X-CSRF-Token` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_in = "cookie",
    key_name = "mamori_admin",
    checker = "admin_session"
)]
pub struct AdminSession(pub(crate) OperatorCaller);

/// The signed-in operator behind a request, checked before the handler runs.
async fn admin_session(req: &Request, cookie: ApiKey) -> poem::Result<OperatorCaller> {
    let ctx = RequestContext::of(req);
    let fail =
        |err: ServiceError| poem::Error::from_response(problem_of(&err, &ctx).into_response());
    let Some(state) = req.data::<AppState>() else {
        return Err(fail(ServiceError::Internal("no application state".into())));
    };
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    state
        .services
        .operators
        .authenticate(&cookie.key, req.header(CSRF_HEADER), state_changing)
        .await
        .map_err(fail)
}

/// What an operator gives for an action that changes a customer's, a bank's or an operator's
/// state: it goes into the audit trail.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ReasonRequest {
    /// Why (1–500 characters), e.g. 「本人確認のうえロック解除」.
    pub reason: StrictString,
}

pub(crate) fn meta(ctx: &RequestContext) -> RequestMeta {
    crate::bank::meta(ctx)
}
