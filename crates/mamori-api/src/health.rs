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

#[derive(ApiResponse)]
enum HealthResponse {
    /// The process is up.
    #[oai(status = 200)]
    Ok(Json<Health>),
}

#[derive(ApiResponse)]
enum ReadinessResponse {
    /// The database answers; the node can take traffic.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
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
