//! Liveness and readiness, for load balancers and orchestrators.

use std::time::Duration;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::context::RequestContext;
use crate::problem::{Problem, RETRY_AFTER_SECONDS};
use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Process and database health, for load balancers.
    Operations,
}

/// Health endpoints.
#[derive(Debug)]
pub struct HealthApi {
    state: AppState,
}

impl HealthApi {
    /// Health endpoints over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// The process is up.
#[derive(Debug, Object)]
struct Health {
    /// Always `ok` when the process answers.
    status: String,
    /// The server's version.
    version: String,
}

/// The service can serve requests.
#[derive(Debug, Object)]
struct Readiness {
    /// `ready`.
    status: String,
    /// `ok`: the database answered.
    database: String,
}

/// A public key (RFC 7517 / RFC 8037).
#[derive(Debug, Object)]
struct Jwk {
    /// `OKP`.
    kty: String,
    /// `Ed25519`.
    crv: String,
    /// `EdDSA`.
    alg: String,
    /// `sig`.
    #[oai(rename = "use")]
    key_use: String,
    /// The key's id, as in the receipts' `kid` header.
    kid: String,
    /// The public key, base64url.
    x: String,
}

/// The keys that verify Mamori's receipts.
#[derive(Debug, Object)]
struct JwkSet {
    /// Current and recently retired keys.
    keys: Vec<Jwk>,
}

#[derive(ApiResponse)]
enum JwksResponse {
    /// The key set.
    #[oai(status = 200)]
    Ok(Json<JwkSet>),
    /// A control character in the path or query (`bad_request`).
    #[oai(status = 400, content_type = "application/problem+json")]
    #[expect(
        dead_code,
        reason = "answered by the edge before the handler; listed for the spec"
    )]
    BadRequest(Json<Problem>),
    /// The path and query are longer than 4 KiB (`uri_too_long`).
    #[oai(status = 414, content_type = "application/problem+json")]
    #[expect(
        dead_code,
        reason = "answered by the edge before the handler; listed for the spec"
    )]
    UriTooLong(Json<Problem>),
    /// The database does not answer (`service_unavailable`); retry after `Retry-After` seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// The process is up.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// A control character in the path or query (`bad_request`).
    #[oai(status = 400, content_type = "application/problem+json")]
    #[expect(
        dead_code,
        reason = "answered by the edge before the handler; listed for the spec"
    )]
    BadRequest(Json<Problem>),
    /// The path and query are longer than 4 KiB (`uri_too_long`).
    #[oai(status = 414, content_type = "application/problem+json")]
    #[expect(
        dead_code,
        reason = "answered by the edge before the handler; listed for the spec"
    )]
    UriTooLong(Json<Problem>),
}

#[derive(ApiResponse)]
enum ReadinessResponse {
    /// The database answers; the node can take traffic.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A control character in the path or query (`bad_request`).
    #[oai(status = 400, content_type = "application/problem+json")]
    #[expect(
        dead_code,
        reason = "answered by the edge before the handler; listed for the spec"
    )]
    BadRequest(Json<Problem>),
    /// The path and query are longer than 4 KiB (`uri_too_long`).
    #[oai(status = 414, content_type = "application/problem+json")]
    #[expect(
        dead_code,
        reason = "answered by the edge before the handler; listed for the spec"
    )]
    UriTooLong(Json<Problem>),
    /// The database does not answer (`service_unavailable`); take the node out of rotation.
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(
        Json<Problem>,
        /// Seconds to wait before asking again.
        #[oai(header = "Retry-After")]
        u32,
    ),
}

/// How long readiness waits for the database before calling it down.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness: the process is running.
    ///
    /// Answers 200 whenever the process can answer at all; it does not touch the database.
    #[oai(path = "/healthz", method = "get", operation_id = "getHealth")]
    async fn health(&self) -> HealthResponse {
        HealthResponse::Ok(Json(Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    /// Receipt verification keys (JWKS)
    ///
    /// The Ed25519 public keys that verify login and transaction receipts, by `kid`. After a
    /// rotation the old key stays here until every receipt it signed has expired.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        operation_id = "getJwks"
    )]
    async fn jwks(&self, ctx: RequestContext) -> JwksResponse {
        match self.state.services.receipts.jwks().await {
            Ok(set) => {
                let keys = set["keys"]
                    .as_array()
                    .map(|keys| {
                        keys.iter()
                            .map(|k| Jwk {
                                kty: k["kty"].as_str().unwrap_or_default().to_owned(),
                                crv: k["crv"].as_str().unwrap_or_default().to_owned(),
                                alg: k["alg"].as_str().unwrap_or_default().to_owned(),
                                key_use: k["use"].as_str().unwrap_or_default().to_owned(),
                                kid: k["kid"].as_str().unwrap_or_default().to_owned(),
                                x: k["x"].as_str().unwrap_or_default().to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                JwksResponse::Ok(Json(JwkSet { keys }))
            }
            Err(err) => {
                tracing::warn!(error = %err, "JWKS unavailable");
                JwksResponse::Unavailable(
                    Json(Problem::new(
                        mamori_domain::ErrorCode::ServiceUnavailable,
                        &ctx,
                    )),
                    RETRY_AFTER_SECONDS,
                )
            }
        }
    }

    /// Readiness: the database is reachable.
    ///
    /// 200 when a trivial query succeeds within 2 seconds; otherwise 503 with the problem
    /// code `service_unavailable` and `Retry-After`.
    #[oai(path = "/readyz", method = "get", operation_id = "getReadiness")]
    async fn readiness(&self, ctx: RequestContext) -> ReadinessResponse {
        let check = tokio_timeout(self.state.services.check_ready()).await;
        match check {
            Some(Ok(())) => ReadinessResponse::Ready(Json(Readiness {
                status: "ready".into(),
                database: "ok".into(),
            })),
            Some(Err(err)) => {
                tracing::warn!(error = %err, "not ready: database check failed");
                not_ready(&ctx)
            }
            None => {
                tracing::warn!("not ready: database check timed out");
                not_ready(&ctx)
            }
        }
    }
}

fn not_ready(ctx: &RequestContext) -> ReadinessResponse {
    ReadinessResponse::NotReady(
        Json(Problem::new(
            mamori_domain::ErrorCode::ServiceUnavailable,
            ctx,
        )),
        RETRY_AFTER_SECONDS,
    )
}

async fn tokio_timeout<F: std::future::Future>(fut: F) -> Option<F::Output> {
    tokio::time::timeout(READINESS_TIMEOUT, fut).await.ok()
}
