//! Per-request context: the request ID every log line and response carries, the caller's
//! language, and the client address for the audit trail.

use mamori_domain::error_code::Lang;
use poem::{FromRequest, Request, RequestBody};

/// The request's ID: the caller's `X-Request-Id` when it is a sane token, else a new UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// Takes the caller's ID if it is 1–64 characters of `[A-Za-z0-9._-]` (so it cannot smuggle
    /// anything into logs), otherwise makes a new one.
    pub fn from_header(header: Option<&str>) -> Self {
        match header {
            Some(id)
                if (1..=64).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
            {
                Self(id.to_owned())
            }
            _ => Self(uuid::Uuid::new_v4().to_string()),
        }
    }
}

/// What a handler needs to know about the request besides its parameters.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request's ID, echoed in `X-Request-Id` and in problem bodies.
    pub request_id: String,
    /// The language for human-readable messages, from `Accept-Language`.
    pub lang: Lang,
    /// The client's address, for the audit trail and rate limits.
    pub client_addr: Option<String>,
}

impl RequestContext {
    /// Reads the context of a request that went through [`crate::middleware`].
    pub fn of(req: &Request) -> Self {
        let request_id = req
            .data::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_else(|| RequestId::from_header(None).0);
        let client_addr = req
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip().to_string());
        Self {
            request_id,
            lang: Lang::from_accept_language(req.header("accept-language")),
            client_addr,
        }
    }
}

impl<'a> FromRequest<'a> for RequestContext {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self::of(req))
    }
}
