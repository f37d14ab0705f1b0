//! A database error is never reported or counted as a wrong code: the bank gets 503 with
//! `Retry-After`, and once the database is back the same code still works.

use mamori_domain::tenant_config::load_dir;
use mamori_store::Database;
use mamori_testkit::{TcpProxy, TestApp, TestDb, TestEngine, shipped_tenant_configs};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_counts_nothing() {
    let test_db = TestDb::create(TestEngine::Postgres).await;
    let target = crate::health::pg_socket_addr(&test_db.url);
    let proxy = TcpProxy::start(target).await;
    let proxied_url = test_db
        .url
        .replacen(&target.to_string(), &proxy.addr.to_string(), 1);
    let db = Database::connect(&proxied_url).await.unwrap();
    db.migrate().await.unwrap();
    let app = TestApp::over(test_db, db);
    let configs = load_dir(&shipped_tenant_configs()).unwrap();
    app.state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();

    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("5000001", None).await;
    let token = app.provision().await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let code = token.code_at(app.now_unix());

    proxy.cut().await;
    // The first request finds the database gone (and may wait out the pool's timeout); the
    // ones after it are told at once — a bank's IB server must not see its own timeouts.
    let first = bank
        .post(&format!("/users/{user}/otp/verify"), json!({ "otp": code }))
        .await;
    assert_eq!(
        first.code(),
        Some("service_unavailable"),
        "{:?}",
        first.body
    );
    for body in [json!({ "otp": code }), json!({ "otp": "000000" })]
        .into_iter()
        .cycle()
        .take(10)
    {
        let asked = std::time::Instant::now();
        let answer = bank.post(&format!("/users/{user}/otp/verify"), body).await;
        let waited = asked.elapsed();
        assert_eq!(
            (answer.status, answer.code()),
            (503, Some("service_unavailable")),
            "{:?}",
            answer.body
        );
        assert!(answer.header("retry-after").is_some());
        assert!(
            waited < std::time::Duration::from_secs(1),
            "a known outage is answered at once, not after the pool's 5-s timeout: {waited:?}"
        );
    }
    // Once a probe is due, the request that finds it due still answers at once: the probe
    // runs beside it (before, that request was the probe and waited the pool's 5 s).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let asked = std::time::Instant::now();
    let answer = bank
        .post(&format!("/users/{user}/otp/verify"), json!({ "otp": code }))
        .await;
    assert_eq!(answer.code(), Some("service_unavailable"));
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(1),
        "the request that is due to probe is answered at once: {:?}",
        asked.elapsed()
    );
    let readiness = app.call("GET", "/readyz", None, None).await;
    assert_eq!(readiness.status, 503, "{:?}", readiness.body);
    proxy.restore().await;

    let mut status = None;
    for _ in 0..20 {
        let answer = bank.get(&format!("/users/{user}/otp-status")).await;
        if answer.status == 200 {
            status = Some(answer.body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = status.expect("the database came back");
    assert_eq!(
        status["failures"], 0,
        "nothing was counted during the outage: {status}"
    );
    let login = bank
        .post(&format!("/users/{user}/otp/verify"), json!({ "otp": code }))
        .await;
    assert_eq!(
        login.status, 200,
        "the code was not spent by the failed attempt: {:?}",
        login.body
    );
}
