//! Per-request context: the request ID every log line and response carries, the caller's
//! language, and the client's address for the audit trail and rate limits.

use mamori_domain::error_code::Lang;
use poem::{FromRequest, Request, RequestBody};

use crate::client_addr::{self, Client};

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
    /// The client's address, for the audit trail: the TCP peer, or the address a trusted proxy
    /// reported (see [`crate::client_addr`]).
    pub client_addr: Option<String>,
    /// The same client as rate limits count it (an IPv6 client by its /64).
    pub client_key: Option<String>,
}

impl RequestContext {
    /// Reads the context of a request that went through [`crate::middleware`].
    pub fn of(req: &Request) -> Self {
        let request_id = req
            .data::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_else(|| RequestId::from_header(None).0);
        // The edge resolved the client; a request that did not pass it has only its peer.
        let client = req.data::<Client>().map(|c| c.addr).or_else(|| {
            req.remote_addr()
                .as_socket_addr()
                .map(|addr| addr.ip().to_canonical())
        });
        Self {
            request_id,
            lang: Lang::from_accept_language(req.header("accept-language")),
            client_addr: client.map(|addr| addr.to_string()),
            client_key: client.map(client_addr::limit_key),
        }
    }
}

impl<'a> FromRequest<'a> for RequestContext {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self::of(req))
    }
}
