//! Mamori's HTTP edge: the poem-openapi APIs (one struct per tag), RFC 9457 problems, request
//! IDs, metrics, and the assembled application. Handlers are thin: they translate HTTP to the
//! use cases in `mamori-service` and back.

mod admin;
mod allow;
mod bank;
pub mod bodies;
pub mod client_addr;
pub mod context;
mod errors;
mod health;
pub mod idempotent;
mod json_guard;
mod login;
pub mod metrics;
pub mod middleware;
pub mod problem;
mod push;
mod self_issue;
mod shape;
mod spec;
mod state;
mod strict;
mod timestamp;
mod token;

use poem::{Endpoint, EndpointExt, Route, get, handler, web::Data};
use poem_openapi::{ContactObject, OpenApi, OpenApiService};

pub use admin::banks::AdminBanksApi;
pub use admin::customers::AdminCustomersApi;
pub use admin::session::AdminSessionApi;
pub use admin::tokens::AdminTokensApi;
pub use admin::trails::AdminTrailsApi;
pub use admin::{CSRF_HEADER, SESSION_COOKIE};
pub use bank::BankApi;
pub use health::HealthApi;
pub use login::LoginApi;
pub use push::PushApi;
pub use self_issue::SelfIssueApi;
pub use state::AppState;
pub use token::TokenApi;

/// The title of the API spec.
pub const API_TITLE: &str = "Mamori API";

const API_DESCRIPTION: &str = "\
Mamori is a multi-tenant one-time-password platform for Japanese shinkin banks.

Banks' internet-banking systems call the **Bank** operations with their API key to register \
customers' tokens, check one-time passwords at login and for transactions, and manage tokens. \
Every error is an RFC 9457 `application/problem+json` body with a stable `code` (see the \
`ErrorCode` schema); `detail` is Japanese or English by `Accept-Language`. Every response \
carries an `X-Request-Id` header (the caller's, when it sends a sane one).";

type Apis = (
    BankApi,
    SelfIssueApi,
    LoginApi,
    PushApi,
    TokenApi,
    HealthApi,
    AdminSessionApi,
    AdminBanksApi,
    AdminCustomersApi,
    AdminTokensApi,
    AdminTrailsApi,
);

/// The OpenAPI service: every API of Mamori, from which the spec is generated.
pub fn api_service(state: AppState) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            BankApi::new(state.clone()),
            SelfIssueApi::new(state.clone()),
            LoginApi::new(state.clone()),
            PushApi::new(state.clone()),
            TokenApi::new(state.clone()),
            HealthApi::new(state.clone()),
            AdminSessionApi::new(state.clone()),
            AdminBanksApi::new(state.clone()),
            AdminCustomersApi::new(state.clone()),
            AdminTokensApi::new(state.clone()),
            AdminTrailsApi::new(state),
        ),
        API_TITLE,
        env!("CARGO_PKG_VERSION"),
    )
    .description(API_DESCRIPTION)
    .contact(ContactObject::new().name("Mamori platform operations"))
}

/// The spec as pretty JSON, exactly as committed under `openapi/`.
pub fn spec_json(state: AppState) -> String {
    spec::for_generators(&api_service(state).spec())
}

/// Serves the committed document, byte for byte.
struct SpecEndpoint(std::sync::Arc<str>);

impl Endpoint for SpecEndpoint {
    type Output = poem::Response;

    async fn call(&self, _req: poem::Request) -> poem::Result<poem::Response> {
        Ok(poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(self.0.to_string()))
    }
}

#[handler]
fn metrics_endpoint(state: Data<&AppState>) -> String {
    state.metrics.render()
}

/// The whole HTTP application: API, spec, docs, metrics, behind the [`middleware::Edge`].
pub fn app(state: AppState) -> impl Endpoint<Output = poem::Response> {
    let api = api_service(state.clone());
    let allow = allow::AllowTable::from_spec(&api.spec())
        .with("/openapi.json", vec!["GET"])
        .with("/metrics", vec!["GET"]);
    let spec_text = spec::for_generators(&api.spec());
    let spec = get(SpecEndpoint(std::sync::Arc::from(spec_text)));
    let docs = api.swagger_ui();
    let edge = middleware::Edge::new(state.metrics.clone(), allow, state.trusted_proxies.clone());
    Route::new()
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .at("/metrics", get(metrics_endpoint))
        .data(state.clone())
        .with(idempotent::Idempotent::new(
            state.services,
            idempotent::KeyedOperations::of(<Apis as OpenApi>::meta()),
        ))
        .with(edge)
}

/// Where [`app_with_admin_ui`] mounts the admin console.
pub const ADMIN_UI_PATH: &str = "/admin";

/// [`app`] plus the admin console's endpoint at [`ADMIN_UI_PATH`] (`/admin` and everything
/// under it; the endpoint sees the full path), behind the same [`middleware::Edge`]: request
/// IDs, logs, metrics and problem bodies work there as everywhere else.
pub fn app_with_admin_ui(
    state: AppState,
    admin_ui: impl Endpoint<Output = poem::Response> + 'static,
) -> impl Endpoint<Output = poem::Response> {
    // The console is static files: every path under it is read-only.
    let allow = allow::AllowTable::default().with_prefix(ADMIN_UI_PATH, vec!["GET"]);
    let edge = middleware::Edge::new(state.metrics.clone(), allow, state.trusted_proxies.clone());
    Route::new()
        .nest_no_strip(ADMIN_UI_PATH, admin_ui.with(edge))
        .nest("/", app(state))
}
