//! Liveness, readiness (including a database outage), request IDs and metrics.

use mamori_store::Database;
use mamori_testkit::{TcpProxy, TestApp, TestDb, TestEngine, on_both_engines};

use crate::support::{assert_problem, json_body};

async fn health_and_readiness_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;

    let resp = app.client.get("/healthz").send().await;
    resp.assert_status_is_ok();
    let request_id = resp.0.headers().get("x-request-id").cloned();
    assert!(request_id.is_some(), "every response carries X-Request-Id");
    let (_, _, body) = json_body(resp).await;
    assert_eq!(body["status"], "ok");

    let resp = app.client.get("/readyz").send().await;
    resp.assert_status_is_ok();
    let (_, _, body) = json_body(resp).await;
    assert_eq!(body["database"], "ok");
}
on_both_engines!(health_and_readiness_answer);

async fn request_ids_are_echoed_or_made(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let resp = app
        .client
        .get("/healthz")
        .header("x-request-id", "bank-req-0001")
        .send()
        .await;
    resp.assert_header("x-request-id", "bank-req-0001");

    // A header that could smuggle text into logs is replaced, not echoed.
    let resp = app
        .client
        .get("/healthz")
        .header("x-request-id", "evil\" injected=1")
        .send()
        .await;
    let id = resp
        .0
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "evil\" injected=1");
    assert_eq!(id.len(), 36, "a fresh UUID: {id}");

    // Two requests without an ID get different ones.
    let a = app.client.get("/healthz").send().await;
    let b = app.client.get("/healthz").send().await;
    assert_ne!(
        a.0.headers().get("x-request-id"),
        b.0.headers().get("x-request-id")
    );
}
on_both_engines!(request_ids_are_echoed_or_made);

async fn metrics_count_requests_by_operation(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    for _ in 0..3 {
        app.client
            .get("/healthz")
            .send()
            .await
            .assert_status_is_ok();
    }
    let text = app
        .client
        .get("/metrics")
        .send()
        .await
        .0
        .into_body()
        .into_string()
        .await
        .unwrap();
    assert!(
        text.contains(r#"mamori_http_requests_total{operation="getHealth",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains("mamori_http_request_duration_seconds_bucket"),
        "{text}"
    );
}
on_both_engines!(metrics_count_requests_by_operation);

/// `/readyz` is 503 while PostgreSQL is unreachable and 200 again once it is back, without a
/// restart: a load balancer takes the node out and puts it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_follows_a_database_outage() {
    let test_db = TestDb::create(TestEngine::Postgres).await;
    let target = pg_socket_addr(&test_db.url);
    let proxy = TcpProxy::start(target).await;
    let proxied_url = test_db
        .url
        .replacen(&target.to_string(), &proxy.addr.to_string(), 1);
    assert_ne!(proxied_url, test_db.url, "URL must point at the proxy");
    let db = Database::connect(&proxied_url)
        .await
        .expect("connect through proxy");
    db.migrate().await.expect("migrate");
    let app = TestApp::over(test_db, db);

    app.client.get("/readyz").send().await.assert_status_is_ok();

    proxy.cut().await;
    let resp = app
        .client
        .get("/readyz")
        .header("accept-language", "en")
        .send()
        .await;
    resp.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    resp.assert_header("retry-after", "5");
    let (status, content_type, body) = json_body(resp).await;
    assert_problem(status, &content_type, &body, "service_unavailable");
    // Liveness is unaffected: the process is fine, only its database is not.
    app.client
        .get("/healthz")
        .send()
        .await
        .assert_status_is_ok();

    proxy.restore();
    let mut ready = false;
    for _ in 0..20 {
        if app
            .client
            .get("/readyz")
            .send()
            .await
            .0
            .status()
            .is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz must recover once the database is back");
}

pub fn pg_socket_addr(url: &str) -> std::net::SocketAddr {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at.split('/').next().unwrap();
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .expect("PostgreSQL test URL must use an IP address and port")
}
