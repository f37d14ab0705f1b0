//! The application as tests see it: real routes, real database, fixed clock.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mamori_api::AppState;
use mamori_api::metrics::Metrics;
use mamori_crypto::{Keyring, MasterKey};
use mamori_domain::tenant_config::load_dir;
use mamori_domain::{Clock, FixedClock, TenantId};
use mamori_service::mail::SmtpMailer;
use mamori_service::{Services, ServicesBuilder};
use mamori_store::Database;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use poem::{Endpoint, EndpointExt};
use serde_json::Value;

use crate::db::{TestDb, TestEngine};
use crate::device::TestDevice;
use crate::smtp::SmtpSink;
use crate::token::TestToken;

/// The request header [`TestApp::call_from`] names the TCP peer in. The testkit turns it into
/// the request's peer address (as a listener would) and removes it before the application sees
/// the request; without it a request has no peer address at all.
pub const PEER_HEADER: &str = "x-testkit-peer";

/// A test's application.
pub struct TestApp {
    /// The test's own database (dropped with the app).
    pub test_db: TestDb,
    /// The store over it.
    pub db: Database,
    /// The clock the services read; move it instead of sleeping.
    pub clock: Arc<FixedClock>,
    /// The shared state handed to the API.
    pub state: AppState,
    /// An in-process HTTP client for the full application.
    pub client: TestClient<BoxEndpoint<'static, poem::Response>>,
    /// The master key its services seal with (shared by [`TestApp::another_node`]).
    master_key: MasterKey,
}

/// A second node of the same platform: its own services and routes over the same database,
/// master key and clock, as another `mamori serve` behind the load balancer.
pub struct Node {
    /// The node's services.
    pub state: AppState,
    client: TestClient<BoxEndpoint<'static, poem::Response>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}

impl Node {
    /// Sends a request to this node (see [`TestApp::call_with_headers`]).
    pub async fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Answer {
        send(&self.client, method, path, key, headers, body).await
    }
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("test_db", &self.test_db)
            .finish_non_exhaustive()
    }
}

/// 2026-11-22T09:30:00Z, a fixed instant tests start at (a step boundary).
pub fn test_epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_339_800, 0).expect("valid timestamp")
}

/// The repository's root directory.
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The repository's tenant configs.
pub fn shipped_tenant_configs() -> std::path::PathBuf {
    repo_root().join("tenant-configs")
}

/// An HTTP answer as tests read it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// JSON body (Null when empty or not JSON).
    pub body: Value,
    /// The body as text (for CSV and other non-JSON answers).
    pub text: String,
    /// Every response header, names lower-case.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// Reads a test client's response.
    pub async fn from_response(resp: poem::test::TestResponse) -> Self {
        let status = resp.0.status().as_u16();
        let operation = resp.0.data::<poem_openapi::OperationId>().map(|id| id.0);
        let headers: Vec<(String, String)> = resp
            .0
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let bytes = resp.0.into_body().into_bytes().await.expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if let Some(operation) = operation {
            crate::contract::check(operation, status, body["code"].as_str());
        }
        Self {
            status,
            content_type,
            body,
            text,
            headers,
        }
    }

    /// A response header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The problem's `code`, if the answer is a problem.
    pub fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }
}

impl TestApp {
    /// A migrated database on `engine`, the shipped banks applied, and the application.
    pub async fn new(engine: TestEngine) -> Self {
        Self::configured(engine, |services| services).await
    }

    /// Like [`TestApp::new`], with outbox mails delivered by real SMTP to `sink`.
    pub async fn with_smtp(engine: TestEngine, sink: &SmtpSink) -> Self {
        let mailer = SmtpMailer::from_url(&sink.url(), "Mamori <no-reply@mamori.invalid>")
            .expect("SMTP transport");
        Self::configured(engine, |services| services.mail_transport(Arc::new(mailer))).await
    }

    /// Like [`TestApp::new`], with the services adjusted by `configure`.
    pub async fn configured(
        engine: TestEngine,
        configure: impl FnOnce(ServicesBuilder) -> ServicesBuilder,
    ) -> Self {
        let (test_db, db) = TestDb::migrated(engine).await;
        let app = Self::build(test_db, db, configure);
        let configs = load_dir(&shipped_tenant_configs()).expect("shipped tenant configs");
        app.state
            .services
            .tenants
            .apply_tenant_configs(&configs)
            .await
            .expect("apply tenant configs");
        app
    }

    /// The application over an existing store (no banks applied).
    pub fn over(test_db: TestDb, db: Database) -> Self {
        Self::build(test_db, db, |services| services)
    }

    fn build(
        test_db: TestDb,
        db: Database,
        configure: impl FnOnce(ServicesBuilder) -> ServicesBuilder,
    ) -> Self {
        let clock = Arc::new(FixedClock::new(test_epoch()));
        let master_key = MasterKey::generate().expect("random key");
        let state = state_of(&db, &clock, &master_key, configure);
        Self {
            test_db,
            db,
            clock,
            client: client_of(&state),
            state,
            master_key,
        }
    }

    /// The same application behind these proxies (`--trusted-proxies`: addresses or networks):
    /// a request from one of them (see [`TestApp::call_from`]) has its client read from
    /// `Forwarded` / `X-Forwarded-For`.
    pub fn trusting(mut self, proxies: &[&str]) -> Self {
        let networks = proxies
            .iter()
            .map(|p| p.parse().expect("a trusted proxy address or network"))
            .collect();
        self.state = self
            .state
            .clone()
            .trusting(mamori_api::client_addr::TrustedProxies::new(networks));
        self.client = client_of(&self.state);
        self
    }

    /// Another node over the same database, master key and clock.
    pub fn another_node(&self) -> Node {
        let state = state_of(&self.db, &self.clock, &self.master_key, |s| s);
        Node {
            client: client_of(&state),
            state,
        }
    }

    /// Runs `sql`, a query whose one row has a count named `n` (as a tool with database
    /// access would).
    pub async fn count(&self, sql: &str) -> i64 {
        use sea_orm::ConnectionTrait;
        let conn = self.db.connection();
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .expect("the count query runs")
            .expect("the count query has a row");
        row.try_get::<i64>("", "n").expect("a count named n")
    }

    /// The master key its services seal with, e.g. to build a node with rotated keys.
    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// The current test time as Unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Moves the clock to the start of the next 30-second step, so a fresh code is current.
    pub fn next_step(&self) {
        let now = self.now_unix();
        self.clock
            .advance(Duration::seconds(30 - now.rem_euclid(30)));
    }

    /// A new API key for `bank`.
    pub async fn bank_key(&self, bank: &str) -> String {
        self.state
            .services
            .access
            .create_api_key(&TenantId::parse(bank).expect("bank id"), "test")
            .await
            .expect("create API key")
            .key
    }

    /// Sends a request with an optional bearer key and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_with_headers(method, path, key, &[], body).await
    }

    /// Sends a request with extra headers, an optional bearer key and JSON body.
    pub async fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Answer {
        send(&self.client, method, path, key, headers, body).await
    }

    /// Sends a request whose TCP peer is `peer` (an IP address), with extra headers (e.g.
    /// `X-Forwarded-For`), no key and an optional JSON body.
    pub async fn call_from(
        &self,
        peer: &str,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Answer {
        let mut with_peer = vec![(PEER_HEADER, peer.to_owned())];
        with_peer.extend(headers.iter().cloned());
        send(&self.client, method, path, None, &with_peer, body).await
    }

    /// Provisions a token through the Token API and returns it with an independent generator.
    pub async fn provision(&self) -> TestToken {
        let answer = self
            .call(
                "POST",
                "/v1/token/credentials",
                None,
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        TestToken::new(
            answer.body["credential_id"]
                .as_str()
                .expect("credential_id"),
            answer.body["secret"].as_str().expect("secret"),
        )
    }

    /// Provisions Mamori's own token: a credential registered with a new device key.
    pub async fn provision_device(&self) -> TestDevice {
        let keys = mamori_crypto::DeviceKeyPair::generate().expect("device key");
        let answer = self
            .call(
                "POST",
                "/v1/token/credentials",
                None,
                Some(serde_json::json!({ "device_public_key": keys.public().to_base64() })),
            )
            .await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        TestDevice {
            token: TestToken::new(
                answer.body["credential_id"]
                    .as_str()
                    .expect("credential_id"),
                answer.body["secret"].as_str().expect("secret"),
            ),
            keys,
        }
    }

    /// A bank's view of the app: its key and its routes.
    pub async fn bank(&self, bank: &str) -> Bank<'_> {
        Bank {
            app: self,
            id: bank.to_owned(),
            key: self.bank_key(bank).await,
        }
    }
}

/// A bank's internet-banking system calling Mamori.
#[derive(Debug)]
pub struct Bank<'a> {
    app: &'a TestApp,
    /// The bank's ID.
    pub id: String,
    /// Its API key.
    pub key: String,
}

impl Bank<'_> {
    /// POST to a path under `/v1/banks/<id>`.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        let path = format!("/v1/banks/{}{path}", self.id);
        self.app
            .call("POST", &path, Some(&self.key), Some(body))
            .await
    }

    /// GET a path under `/v1/banks/<id>`.
    pub async fn get(&self, path: &str) -> Answer {
        let path = format!("/v1/banks/{}{path}", self.id);
        self.app.call("GET", &path, Some(&self.key), None).await
    }

    /// DELETE a path under `/v1/banks/<id>`.
    pub async fn delete(&self, path: &str) -> Answer {
        let path = format!("/v1/banks/{}{path}", self.id);
        self.app.call("DELETE", &path, Some(&self.key), None).await
    }

    /// Creates a user and returns its ID.
    pub async fn create_user(&self, contract_number: &str, user_id: Option<&str>) -> String {
        let mut body = serde_json::json!({ "contract_number": contract_number, "display_name": "テスト 太郎" });
        if let Some(user_id) = user_id {
            body["user_id"] = Value::String(user_id.to_owned());
        }
        let answer = self.post("/users", body).await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a user and registers `token` for them with its code of the next time step (so a
    /// code spent at another bank does not stand in the way); returns the user's ID.
    pub async fn registered_user(&self, contract_number: &str, token: &TestToken) -> String {
        let user = self.create_user(contract_number, None).await;
        self.app.next_step();
        let answer = self
            .post(
                &format!("/users/{user}/credential"),
                serde_json::json!({
                    "credential_id": token.credential_id,
                    "otp": token.code_at(self.app.now_unix()),
                }),
            )
            .await;
        assert_eq!(answer.status, 201, "{}: {:?}", self.id, answer.body);
        user
    }

    /// The user's OTP status.
    pub async fn status(&self, user: &str) -> Value {
        let answer = self.get(&format!("/users/{user}/otp-status")).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body
    }
}

/// An in-process client for the application of `state`, whose requests get the peer address
/// named in [`PEER_HEADER`].
fn client_of(state: &AppState) -> TestClient<BoxEndpoint<'static, poem::Response>> {
    TestClient::new(WithPeer(mamori_api::app(state.clone())).boxed())
}

/// An endpoint whose requests arrive from the peer named in [`PEER_HEADER`].
struct WithPeer<E>(E);

impl<E: Endpoint> Endpoint for WithPeer<E> {
    type Output = E::Output;

    async fn call(&self, req: poem::Request) -> poem::Result<Self::Output> {
        self.0.call(with_peer_address(req)).await
    }
}

/// The request as a listener would have accepted it from the peer its [`PEER_HEADER`] names
/// (the header removed); unchanged without the header.
fn with_peer_address(req: poem::Request) -> poem::Request {
    let Some(peer) = req.header(PEER_HEADER).map(str::to_owned) else {
        return req;
    };
    let ip: std::net::IpAddr = peer.parse().expect("the peer is an IP address");
    let (parts, body) = req.into_parts();
    let mut head = poem::http::Request::builder()
        .method(parts.method)
        .uri(parts.uri)
        .version(parts.version)
        .body(())
        .expect("a request head");
    *head.headers_mut() = parts.headers;
    head.headers_mut().remove(PEER_HEADER);
    *head.extensions_mut() = parts.extensions;
    let (head, ()) = head.into_parts();
    let parts = poem::RequestParts::from((
        head,
        poem::web::LocalAddr::default(),
        poem::web::RemoteAddr(poem::Addr::from(std::net::SocketAddr::new(ip, 40_000))),
        poem::http::uri::Scheme::HTTP,
    ));
    poem::Request::from_parts(parts, body)
}

fn state_of(
    db: &Database,
    clock: &Arc<FixedClock>,
    master_key: &MasterKey,
    configure: impl FnOnce(ServicesBuilder) -> ServicesBuilder,
) -> AppState {
    let keyring = Keyring::new(master_key.clone(), []);
    let metrics = Arc::new(Metrics::new());
    AppState::new(
        // argon2 at its cheapest: tests check the rules, not the cost.
        configure(
            Services::builder(db.clone(), clock.clone(), keyring)
                .password_hashing(
                    mamori_crypto::PasswordHashing::new(1024, 1, 1).expect("argon2 params"),
                )
                .event_counter(metrics.clone()),
        )
        .build(),
        metrics,
    )
}

async fn send(
    client: &TestClient<BoxEndpoint<'static, poem::Response>>,
    method: &str,
    path: &str,
    key: Option<&str>,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> Answer {
    let mut req = match method {
        "GET" => client.get(path),
        "POST" => client.post(path),
        "PUT" => client.put(path),
        "DELETE" => client.delete(path),
        other => panic!("method {other}"),
    };
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    for (name, value) in headers {
        req = req.header(*name, value.as_str());
    }
    if let Some(body) = body {
        req = req.content_type("application/json").body(body.to_string());
    }
    Answer::from_response(req.send().await).await
}
