//! A database error is never reported or counted as a wrong code: the bank gets 503 with
//! `Retry-After`, and once the database is back the same code still works.

use mamori_domain::tenant_config::load_dir;
use mamori_store::Database;
use mamori_testkit::{TcpProxy, TestApp, TestDb, TestEngine, shipped_tenant_configs};
use serde_json::json;

/// A test app on PostgreSQL reached through a proxy the test can cut, banks applied.
async fn app_behind_a_proxy() -> (TestApp, TcpProxy) {
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
    (app, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_counts_nothing() {
    let (app, proxy) = app_behind_a_proxy().await;

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

/// The database goes away while eight clients are sending wrong codes: every answer is either
/// a counted `otp_invalid` or a 503 `service_unavailable` with `Retry-After`; afterwards each
/// user's failure count is the number of `otp_invalid` answers they got — plus at most the one
/// request that was in flight when the connection was cut, whose commit may have reached the
/// database before its answer was lost (no system can tell the client that one) — and never
/// one of the 503s answered while the outage was known. Once the database is back, each user's
/// correct code works without restarting anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_under_load_counts_only_answered_failures_and_recovers() {
    let (app, proxy) = app_behind_a_proxy().await;
    let app = std::sync::Arc::new(app);
    let bank = app.bank("jonan-shinkin").await;
    let mut users = Vec::new();
    for i in 0..8 {
        let user = bank.create_user(&format!("510000{i}"), None).await;
        let token = app.provision().await;
        let reg = bank
            .post(
                &format!("/users/{user}/credential"),
                json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
            )
            .await;
        assert_eq!(reg.status, 201, "{:?}", reg.body);
        users.push((user, token));
    }
    app.next_step();

    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for (user, _) in &users {
        let (app, key, path, answered) = (
            app.clone(),
            bank.key.clone(),
            format!("/v1/banks/{}/users/{user}/otp/verify", bank.id),
            answered.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut invalid = 0;
            let mut unavailable = 0;
            // Five wrong codes each: below the lock threshold of 10.
            for _ in 0..5 {
                let answer = app
                    .call("POST", &path, Some(&key), Some(json!({ "otp": "000000" })))
                    .await;
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match answer.code() {
                    Some("otp_invalid") => invalid += 1,
                    Some("service_unavailable") => {
                        assert_eq!(answer.status, 503);
                        assert!(answer.header("retry-after").is_some(), "{:?}", answer.body);
                        unavailable += 1;
                    }
                    other => panic!("{other:?}: {:?}", answer.body),
                }
            }
            (invalid, unavailable)
        }));
    }
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 8 {
        tokio::task::yield_now().await;
    }
    proxy.cut().await;
    let mut results = Vec::new();
    for client in clients {
        results.push(client.await.unwrap());
    }
    assert!(
        results.iter().any(|(_, unavailable)| *unavailable > 0),
        "the outage came under load: {results:?}"
    );
    proxy.restore().await;

    for ((user, token), (invalid, unavailable)) in users.iter().zip(&results) {
        let mut status = None;
        for _ in 0..50 {
            let answer = bank.get(&format!("/users/{user}/otp-status")).await;
            if answer.status == 200 {
                status = Some(answer.body);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let status = status.expect("the database came back");
        let failures = status["failures"].as_u64().unwrap();
        let in_doubt = u64::from(*unavailable > 0);
        assert!(
            (*invalid..=*invalid + in_doubt).contains(&failures),
            "{invalid} otp_invalid and {unavailable} 503 answers: {status}"
        );
        let login = bank
            .post(
                &format!("/users/{user}/otp/verify"),
                json!({ "otp": token.code_at(app.now_unix()) }),
            )
            .await;
        assert_eq!(login.status, 200, "{:?}", login.body);
    }
}
