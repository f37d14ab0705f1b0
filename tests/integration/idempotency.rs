//! `Idempotency-Key` on the Bank API's POSTs: a bank's retry gets the first answer, on any
//! node, and nothing happens twice; the same key for another request is refused; keys are the
//! bank's own and last a day.

use std::sync::Arc;

use chrono::Duration;
use mamori_domain::idempotency::IdempotencyKey;
use mamori_domain::{Clock, ErrorCode, TenantId};
use mamori_service::{Admission, ServiceError};
use mamori_testkit::{Answer, TestApp, TestEngine, on_both_engines};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::support::assert_problem;

const BANK: &str = "jonan-shinkin";

async fn post_with_key(app: &TestApp, key: &str, bank: &str, path: &str, body: Value) -> Answer {
    let api_key = app.bank_key(bank).await;
    app.call_with_headers(
        "POST",
        &format!("/v1/banks/{bank}{path}"),
        Some(&api_key),
        &[("idempotency-key", key.to_owned())],
        Some(body),
    )
    .await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let conn = app.db.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

fn replayed(answer: &Answer) -> bool {
    answer.header("idempotent-replayed") == Some("true")
}

/// A code check whose answer was lost is sent again: the bank learns the code was accepted
/// (not `otp_already_used`), and a wrong code retried is counted once.
async fn a_retried_code_check_gets_the_first_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let token = app.provision().await;
    let user = bank.create_user("5000001", None).await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();

    let verify = format!("/users/{user}/otp/verify");
    let code = json!({ "otp": token.code_at(app.now_unix()) });
    let first = post_with_key(&app, "verify-1", BANK, &verify, code.clone()).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert!(!replayed(&first));
    let retry = post_with_key(&app, "verify-1", BANK, &verify, code.clone()).await;
    assert_eq!((retry.status, &retry.body), (200, &first.body));
    assert!(replayed(&retry), "{:?}", retry.headers);
    // Without the key the same code is a new request, and a replay of a spent code.
    let again = bank.post(&verify, code).await;
    assert_eq!(again.code(), Some("otp_already_used"));

    let wrong = json!({ "otp": "000000" });
    let first = post_with_key(&app, "verify-2", BANK, &verify, wrong.clone()).await;
    assert_eq!(first.code(), Some("otp_invalid"), "{:?}", first.body);
    let retry = post_with_key(&app, "verify-2", BANK, &verify, wrong).await;
    assert_eq!((retry.status, &retry.body), (422, &first.body));
    assert_eq!(retry.body["attempts_left"], first.body["attempts_left"]);
    assert_eq!(bank.status(&user).await["failures"], 1);
}
on_both_engines!(a_retried_code_check_gets_the_first_answer);

/// A key names one request: another body, or another path, under the same key is refused and
/// does nothing.
async fn a_key_names_one_request(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let body = json!({ "contract_number": "5000002" });
    let first = post_with_key(&app, "create-1", BANK, "/users", body.clone()).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let users = count(&app, "SELECT COUNT(*) AS n FROM users").await;

    let other_body = json!({ "contract_number": "5000003" });
    let reused = post_with_key(&app, "create-1", BANK, "/users", other_body).await;
    assert_problem(
        422,
        &reused.content_type,
        &reused.body,
        "idempotency_key_reused",
    );
    let other_path = post_with_key(&app, "create-1", BANK, "/logins", body.clone()).await;
    assert_eq!(other_path.code(), Some("idempotency_key_reused"));
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM users").await, users);

    // The first request's answer is still there for its retry, whatever came between.
    let retry = post_with_key(&app, "create-1", BANK, "/users", body).await;
    assert_eq!((retry.status, &retry.body), (201, &first.body));
}
on_both_engines!(a_key_names_one_request);

/// Two banks that happen to choose the same key each get their own request run: a key never
/// carries one bank's answer to another.
async fn keys_belong_to_their_bank(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let body = json!({ "contract_number": "5000004" });
    let at_a = post_with_key(&app, "same-key", BANK, "/users", body.clone()).await;
    let at_b = post_with_key(&app, "same-key", "shinkin-001", "/users", body).await;
    assert_eq!((at_a.status, at_b.status), (201, 201), "{:?}", at_b.body);
    assert!(!replayed(&at_b));
    assert_ne!(at_a.body["id"], at_b.body["id"]);
}
on_both_engines!(keys_belong_to_their_bank);

/// A key is kept for 24 hours; after that it is free for any request.
async fn a_key_is_kept_for_a_day(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let first = post_with_key(
        &app,
        "daily",
        BANK,
        "/users",
        json!({ "contract_number": "5000005" }),
    )
    .await;
    assert_eq!(first.status, 201);
    app.advance(Duration::hours(24) - Duration::seconds(1));
    let within = post_with_key(
        &app,
        "daily",
        BANK,
        "/users",
        json!({ "contract_number": "5000006" }),
    )
    .await;
    assert_eq!(within.code(), Some("idempotency_key_reused"));
    app.advance(Duration::seconds(1));
    let after = post_with_key(
        &app,
        "daily",
        BANK,
        "/users",
        json!({ "contract_number": "5000006" }),
    )
    .await;
    assert_eq!(after.status, 201, "{:?}", after.body);
    assert!(!replayed(&after));
    // The sweep forgets expired keys only.
    let forgotten = app
        .state
        .services
        .idempotency
        .forget_expired()
        .await
        .unwrap();
    assert_eq!(forgotten, 0);
    app.advance(Duration::hours(24));
    let forgotten = app
        .state
        .services
        .idempotency
        .forget_expired()
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
}
on_both_engines!(a_key_is_kept_for_a_day);

/// Twelve copies of one request with one key, at once, over two nodes: the request runs once;
/// every other copy gets its answer or `idempotency_key_in_use`.
async fn concurrent_retries_on_two_nodes_run_once(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let node = Arc::new(app.another_node());
    let api_key = app.bank_key(BANK).await;
    let path = format!("/v1/banks/{BANK}/users");
    let body = json!({ "contract_number": "5000007" });
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (app, node) = (app.clone(), node.clone());
        let (path, api_key, body) = (path.clone(), api_key.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let headers = [("idempotency-key", "storm".to_owned())];
            if i % 2 == 0 {
                app.call_with_headers("POST", &path, Some(&api_key), &headers, Some(body))
                    .await
            } else {
                node.call_with_headers("POST", &path, Some(&api_key), &headers, Some(body))
                    .await
            }
        }));
    }
    let mut ran = 0;
    let mut ids = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match (answer.status, answer.code()) {
            (201, None) => {
                ran += usize::from(!replayed(&answer));
                ids.push(answer.body["id"].clone());
            }
            (409, Some("idempotency_key_in_use")) => {}
            other => panic!("unexpected {other:?}: {:?}", answer.body),
        }
    }
    assert_eq!(ran, 1);
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let created = count(
        &app,
        "SELECT COUNT(*) AS n FROM users WHERE contract_number = '5000007'",
    )
    .await;
    assert_eq!(created, 1);
}
on_both_engines!(concurrent_retries_on_two_nodes_run_once);

/// A key that is empty, too long or not visible ASCII is a 400, and nothing is done.
async fn malformed_keys_are_refused(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    for key in ["a b".to_owned(), "k".repeat(256), "キー".to_owned()] {
        let answer = post_with_key(
            &app,
            &key,
            BANK,
            "/users",
            json!({ "contract_number": "5000008" }),
        )
        .await;
        assert_problem(400, &answer.content_type, &answer.body, "bad_request");
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM users WHERE contract_number = '5000008'"
        )
        .await,
        0
    );
}
on_both_engines!(malformed_keys_are_refused);

/// A refusal that may pass later is not kept: refused while the bank is suspended, the same
/// request with the same key runs once the bank is resumed.
async fn refusals_that_may_pass_later_are_not_kept(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let body = json!({ "contract_number": "5000009" });
    let api_key = app.bank_key(BANK).await;
    let now = app.clock.now();
    mamori_store::tenants::set_suspended(app.db.connection(), BANK, Some(now), now)
        .await
        .unwrap();
    let refused = app
        .call_with_headers(
            "POST",
            &format!("/v1/banks/{BANK}/users"),
            Some(&api_key),
            &[("idempotency-key", "later".to_owned())],
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.code(), Some("bank_suspended"));
    mamori_store::tenants::set_suspended(app.db.connection(), BANK, None, now)
        .await
        .unwrap();
    let ran = post_with_key(&app, "later", BANK, "/users", body).await;
    assert_eq!(ran.status, 201, "{:?}", ran.body);
    assert!(!replayed(&ran));
}
on_both_engines!(refusals_that_may_pass_later_are_not_kept);

/// A claim whose node died before it answered holds the key for the lease (a minute), then a
/// retry takes it over and runs; the dead claim can no longer store an answer.
async fn a_dead_claim_is_taken_over_after_its_lease(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let keys = &app.state.services.idempotency;
    let bank = TenantId::parse(BANK).unwrap();
    let key = || IdempotencyKey::parse("dead-node").unwrap();
    let Admission::Run(dead) = keys.admit(&bank, key(), "print").await.unwrap() else {
        panic!("a new key runs");
    };
    let in_use = keys.admit(&bank, key(), "print").await.unwrap_err();
    assert!(
        matches!(
            in_use,
            ServiceError::Rejected {
                code: ErrorCode::IdempotencyKeyInUse,
                ..
            }
        ),
        "{in_use:?}"
    );
    app.advance(Duration::seconds(60));
    let Admission::Run(alive) = keys.admit(&bank, key(), "print").await.unwrap() else {
        panic!("an abandoned key is taken over");
    };
    let answer = |status| mamori_service::StoredAnswer {
        status,
        headers: "{}".to_owned(),
        body: b"{}".to_vec(),
    };
    keys.keep(dead, answer(500)).await.unwrap();
    keys.keep(alive, answer(201)).await.unwrap();
    match keys.admit(&bank, key(), "print").await.unwrap() {
        Admission::Replay(stored) => assert_eq!(stored.status, 201),
        Admission::Run(_) => panic!("the answer is kept"),
    }
}
on_both_engines!(a_dead_claim_is_taken_over_after_its_lease);
