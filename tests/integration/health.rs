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

/// What a monitoring system sees of a bank: its code checks by operation and outcome, the
/// lock the tenth wrong code caused, the registration, counted as each entry committed.
async fn metrics_count_each_bank_s_checks_locks_and_registrations(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("6000001", None).await;
    let token = app.provision().await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            serde_json::json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let ok = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            serde_json::json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    for _ in 0..10 {
        bank.post(
            &format!("/users/{user}/otp/verify"),
            serde_json::json!({ "otp": "000000" }),
        )
        .await;
    }
    let text = app.call("GET", "/metrics", None, None).await.text;
    let bank_line = |metric: &str, labels: &str| {
        text.lines()
            .find(|line| line.starts_with(&format!("{metric}{{")) && line.contains(labels))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    let jonan = r#"bank="jonan-shinkin""#;
    assert_eq!(
        bank_line(
            "mamori_code_checks_total",
            &format!(r#"{jonan},operation="verifyOtp",outcome="success""#)
        ),
        Some(1),
        "{text}"
    );
    // Nine wrong codes, then the tenth that locked it (answered `otp_locked`).
    let wrong = bank_line(
        "mamori_code_checks_total",
        &format!(r#"{jonan},operation="verifyOtp",outcome="otp_invalid""#),
    );
    let locking = bank_line(
        "mamori_code_checks_total",
        &format!(r#"{jonan},operation="verifyOtp",outcome="otp_locked""#),
    );
    assert_eq!(wrong.unwrap_or(0) + locking.unwrap_or(0), 10, "{text}");
    assert_eq!(bank_line("mamori_locks_total", jonan), Some(1), "{text}");
    assert_eq!(
        bank_line("mamori_registrations_total", jonan),
        Some(1),
        "{text}"
    );
    assert_eq!(
        bank_line(
            "mamori_audit_events_total",
            &format!(r#"{jonan},operation="registerCredential",outcome="success""#)
        ),
        Some(1),
        "{text}"
    );
}
on_both_engines!(metrics_count_each_bank_s_checks_locks_and_registrations);

/// The Grafana dashboard in the repository queries only metrics the binary exports.
#[tokio::test]
async fn the_grafana_dashboard_draws_exported_metrics() {
    use mamori_domain::stats::Metric;
    use mamori_domain::{AuditOutcome, Operation};
    use mamori_service::{CountedEvent, EventCounter};

    let app = TestApp::new(TestEngine::Sqlite).await;
    // One event of every figure, so every family has a sample to show.
    app.state.metrics.count(&CountedEvent {
        bank: "jonan-shinkin",
        operation: Operation::VerifyOtp,
        outcome: AuditOutcome::Success,
        error_code: None,
        figures: &Metric::ALL,
    });
    app.call("GET", "/healthz", None, None).await;
    let exported = app.call("GET", "/metrics", None, None).await.text;
    let path =
        mamori_testkit::repo_root().join("crates/mamori-server/monitoring/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("mamori_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                queried.push(name);
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for name in queried {
        assert!(
            exported
                .lines()
                .any(|line| line.starts_with(&format!("{name}{{"))
                    || line.starts_with(&format!("{name} "))),
            "the dashboard queries {name}, which /metrics does not export:\n{exported}"
        );
    }
}

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

    proxy.restore().await;
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
