//! The edge every request passes: request ID and tracing span, the client's address (behind
//! trusted proxies), body limit and strict JSON, uniform problem bodies for every error,
//! metrics.

use std::sync::Arc;
use std::time::Instant;

use mamori_domain::ErrorCode;
use mamori_domain::error_code::Lang;
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::allow::AllowTable;
use crate::client_addr::{TrustedProxies, Via};
use crate::context::RequestId;
use crate::json_guard::{Text, check_json, first_control};
use crate::metrics::Metrics;
use crate::problem::{Problem, code_for_status};

/// Largest request body accepted. Mamori's requests are a few hundred bytes; a megabyte body
/// is a mistake or an attack and is refused before it is parsed. A token seed file is the one
/// exception ([`crate::admin::tokens::IMPORT_BODY_BYTES`]).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest path and query accepted. Mamori's longest route with the longest IDs is a few
/// hundred bytes; this answers a 414 problem long before the HTTP server's own limit would
/// answer without one.
pub const MAX_TARGET_BYTES: usize = 4 * 1024;

/// The edge middleware.
#[derive(Debug, Clone)]
pub struct Edge {
    metrics: Arc<Metrics>,
    allow: Arc<AllowTable>,
    proxies: Arc<TrustedProxies>,
}

impl Edge {
    /// Creates the edge, recording into `metrics`, naming the methods of `allow`'s routes in a
    /// 405, and believing the forwarding headers of `proxies` only.
    pub fn new(metrics: Arc<Metrics>, allow: AllowTable, proxies: Arc<TrustedProxies>) -> Self {
        Self {
            metrics,
            allow: Arc::new(allow),
            proxies,
        }
    }
}

impl<E: Endpoint> Middleware<E> for Edge {
    type Output = EdgeEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        EdgeEndpoint {
            inner,
            metrics: self.metrics.clone(),
            allow: self.allow.clone(),
            proxies: self.proxies.clone(),
        }
    }
}

/// The endpoint [`Edge`] wraps around the application.
#[derive(Debug)]
pub struct EdgeEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    allow: Arc<AllowTable>,
    proxies: Arc<TrustedProxies>,
}

impl<E: Endpoint> Endpoint for EdgeEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id = RequestId::from_header(req.header("x-request-id"));
        req.set_data(request_id.clone());
        let lang = Lang::from_accept_language(req.header("accept-language"));
        let span = tracing::info_span!(
            "request",
            request_id = %request_id.0,
            http.method = %req.method(),
            http.path = %req.uri().path(),
        );

        async move {
            resolve_client(&mut req, &self.proxies);
            let mut resp = match guard_body(&mut req).await {
                Err(problem) => problem,
                Ok(()) => {
                    let path = req.uri().path().to_owned();
                    let admin = path.starts_with("/v1/admin/");
                    match self.inner.call(req).await {
                        Ok(output) => output.into_response(),
                        Err(err) => {
                            let method_not_allowed = err.status() == StatusCode::METHOD_NOT_ALLOWED;
                            let mut resp = problem_for_error(err, lang, &request_id, admin);
                            if method_not_allowed
                                && let Some(allow) = self.allow.allow(&path)
                                && let Ok(value) = HeaderValue::from_str(&allow)
                            {
                                resp.headers_mut().insert("allow", value);
                            }
                            resp
                        }
                    }
                }
            };
            if let Ok(value) = HeaderValue::from_str(&request_id.0) {
                resp.headers_mut().insert("x-request-id", value);
            }
            let operation = resp.data::<OperationId>().map(|id| id.0).unwrap_or("other");
            let status = resp.status().as_u16();
            let elapsed = started.elapsed().as_secs_f64();
            self.metrics.observe(operation, status, elapsed);
            tracing::info!(
                http.status = status,
                operation,
                elapsed_ms = elapsed * 1000.0,
                "request finished"
            );
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}

/// Puts the request's [`crate::client_addr::Client`] in its data: the TCP peer, or what a
/// trusted proxy says the client is. A request with no socket peer has no client.
fn resolve_client(req: &mut Request, proxies: &TrustedProxies) {
    let Some(peer) = req.remote_addr().as_socket_addr().map(|addr| addr.ip()) else {
        return;
    };
    let lines = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let client = if proxies.is_empty() {
        crate::client_addr::Client {
            addr: peer.to_canonical(),
            via: Via::Peer,
        }
    } else {
        let (forwarded, xff) = (lines("forwarded"), lines("x-forwarded-for"));
        let forwarded: Vec<&str> = forwarded.iter().map(String::as_str).collect();
        let xff: Vec<&str> = xff.iter().map(String::as_str).collect();
        proxies.client(peer, &forwarded, &xff)
    };
    if client.via == Via::Unreadable {
        tracing::debug!(
            "a trusted proxy sent an unreadable Forwarded / X-Forwarded-For; the proxy itself is the client"
        );
    }
    req.set_data(client);
}

/// Refuses control characters in the path and query, then reads a request body once, within
/// the size limit, and refuses JSON with duplicate keys or control characters; then puts the
/// bytes back for the handler.
async fn guard_body(req: &mut Request) -> Result<(), Response> {
    let problem = |code: ErrorCode, detail: Option<String>, req: &Request| {
        let ctx = crate::context::RequestContext::of(req);
        let mut p = Problem::new(code, &ctx);
        if let Some(detail) = detail {
            p = p.with_detail(detail);
        }
        p.into_response()
    };
    let bad_request = |why: String, req: &Request| {
        let lang = Lang::from_accept_language(req.header("accept-language"));
        let detail = format!("{} ({why})", ErrorCode::BadRequest.detail(lang));
        problem(ErrorCode::BadRequest, Some(detail), req)
    };
    if req.uri().path_and_query().map_or(0, |pq| pq.as_str().len()) > MAX_TARGET_BYTES {
        return Err(problem(ErrorCode::UriTooLong, None, req));
    }
    if let Some(why) = control_in_target(req) {
        return Err(bad_request(why, req));
    }
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    // A token seed file is the one large body Mamori takes, and only with an admin session
    // cookie (checked after the body is read; its absence needs no check to refuse).
    let has_session_cookie = req
        .header("cookie")
        .is_some_and(|c| c.contains(crate::admin::SESSION_COOKIE));
    let limit = if has_session_cookie && req.uri().path() == crate::admin::tokens::IMPORT_PATH {
        crate::admin::tokens::IMPORT_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let declared_too_large = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > limit);
    if declared_too_large {
        return Err(problem(ErrorCode::PayloadTooLarge, None, req));
    }
    let bytes = match req.take_body().into_bytes_limit(limit).await {
        Ok(bytes) => bytes,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return Err(problem(ErrorCode::PayloadTooLarge, None, req));
        }
        Err(_) => return Err(problem(ErrorCode::BadRequest, None, req)),
    };
    let is_json = req
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    // Operators write reasons and policies on several lines; nobody else needs a line break.
    let text = if req.uri().path().starts_with("/v1/admin/") {
        Text::MultiLine
    } else {
        Text::SingleLine
    };
    if is_json
        && !bytes.is_empty()
        && let Err(why) = check_json(&bytes, text)
    {
        return Err(bad_request(why, req));
    }
    req.set_body(bytes);
    Ok(())
}

/// A control character in the decoded path or query, named for the caller.
fn control_in_target(req: &Request) -> Option<String> {
    let decoded = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8_lossy()
            .into_owned()
    };
    if let Some(c) = first_control(&decoded(req.uri().path())) {
        return Some(format!("control character {c} in the path"));
    }
    let query = req.uri().query().unwrap_or_default();
    first_control(&decoded(query)).map(|c| format!("control character {c} in the query"))
}

/// Turns any error that reached the edge into a problem response. Server errors are logged
/// here, once; client errors are the caller's and only counted in metrics.
fn problem_for_error(
    err: poem::Error,
    lang: Lang,
    request_id: &RequestId,
    admin: bool,
) -> Response {
    let err = match handler_problem(err) {
        Ok(resp) => return resp,
        Err(err) => err,
    };
    let status = err.status();
    // No session cookie at all on an admin route: the same answer as an ended session.
    let code = match code_for_status(status) {
        ErrorCode::Unauthorized if admin => ErrorCode::AdminSessionRequired,
        code => code,
    };
    let operation = err.data::<OperationId>().copied();
    let mut problem = Problem::with_lang(code, lang, request_id.0.clone());
    if code == ErrorCode::BadRequest {
        // The framework's parse message says which field was wrong; it never contains more
        // than the caller itself sent.
        problem = problem.with_detail(format!("{} ({err})", code.detail(lang)));
    }
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(error = %err, "unhandled error");
    }
    let mut resp = problem.into_response();
    if let Some(operation) = operation {
        resp.set_data(operation);
    }
    resp
}

/// A handler's own problem response, which travels as an error built from that response, as
/// that response again, still naming its operation; any other error as it is.
pub(crate) fn handler_problem(err: poem::Error) -> poem::Result<Response> {
    if !err.is_from_response() {
        return Err(err);
    }
    let operation = err.data::<OperationId>().copied();
    let mut resp = err.into_response();
    if let Some(operation) = operation {
        resp.set_data(operation);
    }
    Ok(resp)
}
