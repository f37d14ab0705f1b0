//! `Idempotency-Key` on the Bank API's POSTs: a bank that lost an answer (a timeout, a dropped
//! connection) sends the request again with the same key and gets the first answer, on any
//! node, with nothing done twice — no second failure counted for a wrong code, no
//! `otp_already_used` for a code that was in fact accepted.
//!
//! Keys belong to the bank of the API key, so the layer checks the key first; a request it
//! cannot attribute goes on to the operation, which refuses it as always. What is kept is what
//! the operation answered, except refusals that may pass later (401, 403, 429, 5xx) and
//! requests the framework could not read: those free the key for the retry.

use std::collections::BTreeMap;

use mamori_domain::ErrorCode;
use mamori_domain::idempotency::{IdempotencyKey, fingerprint};
use mamori_service::{Admission, Services, StoredAnswer};
use poem::http::{HeaderName, HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;
use poem_openapi::registry::MetaApi;

use crate::allow::Template;

use crate::bank::bank_in_path;
use crate::context::RequestContext;
use crate::errors::problem_of;
use crate::middleware::handler_problem;
use crate::problem::Problem;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// Set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Whether requests to `path` with `method` take an `Idempotency-Key`: every POST of the Bank
/// API. The spec documents the header where this says so.
pub(crate) fn applies(method: &str, path: &str) -> bool {
    method.eq_ignore_ascii_case("POST") && path.starts_with("/v1/banks/")
}

/// What the spec says of the header.
pub(crate) const HEADER_DOC: &str = "Makes a retry safe: send the same key (1 to 255 visible \
ASCII characters, e.g. a UUID) with the same request to get the first answer again, with the \
header `Idempotent-Replayed: true` and nothing done twice. A key belongs to the bank and is \
kept for 24 hours. The same key with another method, path or body is refused with 422 \
`idempotency_key_reused`; while the first request is still being answered, 409 \
`idempotency_key_in_use`. Refusals that may pass later (401, 403, 429, 5xx) are not kept.";

/// The operations that take a key, by path, so that the answers this layer gives itself (a
/// replay, a refused key) name their operation in metrics and logs as the operation's own do.
#[derive(Debug, Default)]
pub(crate) struct KeyedOperations(Vec<(Template, &'static str)>);

impl KeyedOperations {
    /// The keyed operations among `apis`.
    pub(crate) fn of(apis: Vec<MetaApi>) -> Self {
        let mut operations = Vec::new();
        for path in apis.into_iter().flat_map(|api| api.paths) {
            for operation in &path.operations {
                if let (true, Some(id)) = (
                    applies(operation.method.as_str(), &path.path),
                    operation.operation_id,
                ) {
                    operations.push((Template::parse(&path.path), id));
                }
            }
        }
        Self(operations)
    }

    fn find(&self, path: &str) -> Option<OperationId> {
        self.0
            .iter()
            .find(|(template, _)| template.matches(path))
            .map(|(_, id)| OperationId(id))
    }
}

/// The idempotency layer.
#[derive(Debug, Clone)]
pub struct Idempotent {
    services: Services,
    operations: std::sync::Arc<KeyedOperations>,
}

impl Idempotent {
    /// The layer over the services that keep the keys, for `operations`.
    pub(crate) fn new(services: Services, operations: KeyedOperations) -> Self {
        Self {
            services,
            operations: std::sync::Arc::new(operations),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Idempotent {
    type Output = IdempotentEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        IdempotentEndpoint {
            inner,
            services: self.services.clone(),
            operations: self.operations.clone(),
        }
    }
}

/// The endpoint [`Idempotent`] wraps.
#[derive(Debug)]
pub struct IdempotentEndpoint<E> {
    inner: E,
    services: Services,
    operations: std::sync::Arc<KeyedOperations>,
}

impl<E: Endpoint> IdempotentEndpoint<E> {
    /// This layer's own answer, naming the operation it stood in for.
    fn own(&self, path: &str, mut resp: Response) -> poem::Result<Response> {
        if let Some(operation) = self.operations.find(path) {
            resp.set_data(operation);
        }
        Ok(resp)
    }
}

impl<E: Endpoint> Endpoint for IdempotentEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // Most requests carry no key: they pass with two look-ups and nothing copied.
        let keyed =
            req.headers().contains_key(HEADER) && applies(req.method().as_str(), req.uri().path());
        if !keyed {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let path = req.uri().path().to_owned();
        // A key that is not even text (bytes beyond ASCII) is as malformed as a bad text one.
        let raw_key = req
            .headers()
            .get(HEADER)
            .map(|value| value.to_str().unwrap_or_default())
            .unwrap_or_default()
            .to_owned();
        let ctx = RequestContext::of(&req);
        let Some(key) = IdempotencyKey::parse(&raw_key) else {
            let detail = format!(
                "{} (Idempotency-Key must be 1 to 255 visible ASCII characters)",
                ErrorCode::BadRequest.detail(ctx.lang)
            );
            let problem = Problem::new(ErrorCode::BadRequest, &ctx).with_detail(detail);
            return self.own(&path, problem.into_response());
        };
        let bearer = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let Ok(caller) = self
            .services
            .access
            .authenticate_bank(&bearer, bank_in_path(&path))
            .await
        else {
            // Not this bank's request: the operation refuses it the usual way.
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        // The edge read the body within its limit; this takes the bytes back out of memory.
        let body = req.take_body().into_bytes().await?;
        let target = req
            .uri()
            .path_and_query()
            .map_or(path.as_str(), |pq| pq.as_str());
        let print = fingerprint(Method::POST.as_str(), target, &body);
        req.set_body(body);

        let claim = match self
            .services
            .idempotency
            .admit(&caller.tenant_id, key, &print)
            .await
        {
            Ok(Admission::Run(claim)) => claim,
            Ok(Admission::Replay(answer)) => return self.own(&path, replay(answer)),
            Err(err) => return self.own(&path, problem_of(&err, &ctx).into_response()),
        };
        let answered = match self.inner.call(req).await {
            Ok(output) => Ok(output.into_response()),
            Err(err) => handler_problem(err),
        };
        let mut resp = match answered {
            Ok(resp) if keeps(resp.status()) => resp,
            other => {
                if let Err(err) = self.services.idempotency.release(claim).await {
                    tracing::warn!(error = %err, "idempotency key not released; it frees itself after its lease");
                }
                return other;
            }
        };
        let bytes = resp.take_body().into_bytes().await?;
        resp.set_body(bytes.clone());
        let answer = StoredAnswer {
            status: resp.status().as_u16(),
            headers: kept_headers(&resp),
            body: bytes.to_vec(),
        };
        if let Err(err) = self.services.idempotency.keep(claim, answer).await {
            // The request took effect; its retry waits for the lease, then runs and meets the
            // state this one left (e.g. `otp_already_used`).
            tracing::warn!(error = %err, "idempotent answer not kept");
        }
        Ok(resp)
    }
}

/// Whether an answer is kept for retries: everything the operation decided, except refusals
/// that may pass later.
fn keeps(status: StatusCode) -> bool {
    let later = [
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    !status.is_server_error() && !later.contains(&status)
}

/// The answer's own headers, without those of the exchange it came in.
fn kept_headers(resp: &Response) -> String {
    let per_exchange = [
        "x-request-id",
        "content-length",
        "date",
        "transfer-encoding",
    ];
    let headers: BTreeMap<&str, &str> = resp
        .headers()
        .iter()
        .filter(|(name, _)| !per_exchange.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    serde_json::to_string(&headers).unwrap_or_else(|_| "{}".to_owned())
}

/// The first request's answer, again.
fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = Response::builder().status(status).body(answer.body);
    let headers: BTreeMap<String, String> =
        serde_json::from_str(&answer.headers).unwrap_or_default();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp.headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_post_of_the_bank_api_takes_a_key_and_nothing_else_does() {
        assert!(applies("POST", "/v1/banks/{bank_id}/users"));
        assert!(applies(
            "POST",
            "/v1/banks/jonan-shinkin/users/u1/otp/verify"
        ));
        assert!(!applies("GET", "/v1/banks/jonan-shinkin/users"));
        assert!(!applies(
            "DELETE",
            "/v1/banks/jonan-shinkin/users/u1/otp-use"
        ));
        assert!(!applies("POST", "/v1/token/credentials"));
        assert!(!applies("POST", "/v1/admin/banks"));
    }

    #[test]
    fn answers_of_this_layer_name_the_operation_they_stand_in_for() {
        let operations = KeyedOperations::of(<crate::Apis as poem_openapi::OpenApi>::meta());
        let find = |path: &str| operations.find(path).map(|id| id.0);
        assert_eq!(
            find("/v1/banks/jonan-shinkin/users/usr_1/otp/verify"),
            Some("verifyOtp")
        );
        assert_eq!(find("/v1/banks/jonan-shinkin/users"), Some("createUser"));
        assert_eq!(find("/v1/banks/jonan-shinkin/users/usr_1"), None);
        assert_eq!(find("/v1/token/credentials"), None);
    }

    #[test]
    fn refusals_that_may_pass_later_are_not_kept() {
        for kept in [200, 201, 400, 404, 409, 422, 423] {
            assert!(keeps(StatusCode::from_u16(kept).unwrap()), "{kept}");
        }
        for freed in [401, 403, 429, 500, 503] {
            assert!(!keeps(StatusCode::from_u16(freed).unwrap()), "{freed}");
        }
    }
}
