//! Exactness under concurrency: real parallel requests through the whole stack against one
//! database. Each of these was first seen to fail against a read-then-write version of the
//! store (see the closing notes of the Bank API issue).

use std::collections::HashMap;
use std::sync::Arc;

use mamori_testkit::{Bank, TestApp, TestEngine, TestToken, on_both_engines};
use serde_json::{Value, json};

/// Sends `n` copies of one request at once; returns the status/code of each answer.
async fn storm(
    app: &Arc<TestApp>,
    n: usize,
    path: String,
    key: String,
    body: Value,
) -> HashMap<(u16, String), usize> {
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let app = app.clone();
        let (path, key, body) = (path.clone(), key.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.call("POST", &path, Some(&key), Some(body)).await
        }));
    }
    let mut tally = HashMap::new();
    for task in tasks {
        let answer = task.await.unwrap();
        let code = answer.code().unwrap_or("ok").to_owned();
        *tally.entry((answer.status, code)).or_insert(0) += 1;
    }
    tally
}

/// The same correct code sent 20 times at once — to four registrations of one token at two
/// banks, so neither a bank's lock nor a user's row serialises them: exactly one success, the
/// rest `otp_already_used`, and none counted as a failure.
async fn one_code_twenty_times_at_once_succeeds_once(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let token = app.provision().await;
    let mut targets = Vec::new();
    for (bank_id, contract) in [
        ("jonan-shinkin", "2000001"),
        ("jonan-shinkin", "2000002"),
        ("shinkin-001", "2000003"),
        ("shinkin-001", "2000004"),
    ] {
        let bank = app.bank(bank_id).await;
        let user = bank.create_user(contract, None).await;
        let reg = bank
            .post(&format!("/users/{user}/credential"), json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }))
            .await;
        assert_eq!(reg.status, 201, "{:?}", reg.body);
        app.next_step();
        targets.push((bank, user));
    }

    let code = token.code_at(app.now_unix());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (bank, user) = &targets[i % targets.len()];
        let app = app.clone();
        let path = format!("/v1/banks/{}/users/{user}/otp/verify", bank.id);
        let (key, body) = (bank.key.clone(), json!({ "otp": code }));
        tasks.push(tokio::spawn(async move {
            app.call("POST", &path, Some(&key), Some(body)).await
        }));
    }
    let mut tally: HashMap<(u16, String), usize> = HashMap::new();
    for task in tasks {
        let answer = task.await.unwrap();
        *tally
            .entry((answer.status, answer.code().unwrap_or("ok").to_owned()))
            .or_insert(0) += 1;
    }
    assert_eq!(tally.get(&(200, "ok".into())), Some(&1), "{tally:?}");
    assert_eq!(
        tally.get(&(409, "otp_already_used".into())),
        Some(&19),
        "{tally:?}"
    );
    for (bank, user) in &targets {
        let status = bank.status(user).await;
        assert_eq!(
            status["failures"], 0,
            "an already-used code is not a failure: {status}"
        );
    }
}
on_both_engines!(one_code_twenty_times_at_once_succeeds_once);

/// 50 wrong codes at once against a limit of 10: the counter is exactly 10 and no code was
/// checked beyond it (the platform-wide count, bumped only by a checked wrong code, is 10 too).
async fn fifty_wrong_codes_at_once_count_exactly_the_limit(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let bank = app.bank("johoku-shinkin").await;
    let user = bank.create_user("3000001", Some("u1")).await;
    let token = app.provision().await;
    let now = app.now_unix();
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_after(now, -1), "otp2": token.code_at(now) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    let tally = storm(
        &app,
        50,
        format!("/v1/banks/johoku-shinkin/users/{user}/otp/verify"),
        bank.key.clone(),
        json!({ "otp": "000000" }),
    )
    .await;
    assert_eq!(
        tally.get(&(422, "otp_invalid".into())),
        Some(&9),
        "{tally:?}"
    );
    assert_eq!(
        tally.get(&(423, "otp_locked".into())),
        Some(&41),
        "{tally:?}"
    );
    let status = bank.status(&user).await;
    assert_eq!(
        (status["status"].as_str(), status["failures"].as_u64()),
        (Some("locked"), Some(10)),
        "{status}"
    );
    let checked = app
        .count(&format!(
            "SELECT CAST(failures AS BIGINT) AS n FROM credentials WHERE id = '{}'",
            token.credential_id
        ))
        .await;
    assert_eq!(checked, 10, "exactly 10 codes were checked");
}
on_both_engines!(fifty_wrong_codes_at_once_count_exactly_the_limit);

/// 10 registrations of one credential to one user at once: one binding.
async fn ten_parallel_registrations_make_one_binding(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("4000001", None).await;
    let token = app.provision().await;
    let body =
        json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) });
    let tally = storm(
        &app,
        10,
        format!("/v1/banks/jonan-shinkin/users/{user}/credential"),
        bank.key.clone(),
        body,
    )
    .await;
    assert_eq!(tally.get(&(201, "ok".into())), Some(&1), "{tally:?}");
    let refused: usize = tally
        .iter()
        .filter(|((status, code), _)| {
            *status == 409
                && (code == "credential_already_registered" || code == "otp_already_used")
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(refused, 9, "{tally:?}");
    let bindings = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM bindings WHERE user_id = '{user}'"
        ))
        .await;
    assert_eq!(bindings, 1);
}
on_both_engines!(ten_parallel_registrations_make_one_binding);

/// Thirty provisionings at once from one address, in each of three fresh windows: exactly the
/// limit (20) succeed every time and the rest are `rate_limited` with a `Retry-After` that ends
/// the window. The window's first slot used to race, refusing a few of the first requests.
async fn a_new_rate_limit_window_admits_exactly_its_limit(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    for window in 0..3 {
        app.advance(chrono::Duration::hours(1));
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                app.call("POST", "/v1/token/credentials", None, Some(json!({})))
                    .await
            }));
        }
        let wait = 3600 - app.now_unix().rem_euclid(3600);
        let (mut created, mut limited) = (0, 0);
        for task in tasks {
            let answer = task.await.unwrap();
            match answer.status {
                201 => created += 1,
                429 => {
                    assert_eq!(answer.code(), Some("rate_limited"));
                    assert_eq!(
                        answer.header("retry-after"),
                        Some(wait.to_string().as_str()),
                        "window {window}"
                    );
                    limited += 1;
                }
                other => panic!("window {window}: {other} {:?}", answer.body),
            }
        }
        assert_eq!((created, limited), (20, 10), "window {window}");
    }
}
on_both_engines!(a_new_rate_limit_window_admits_exactly_its_limit);

/// Forty users of `bank`, each with a token registered.
async fn forty_registered_users(app: &TestApp, bank: &Bank<'_>) -> Vec<(String, TestToken)> {
    let mut users = Vec::new();
    for i in 0..40 {
        if i % 15 == 14 {
            // Past the keyless routes' hourly limit per client.
            app.advance(chrono::Duration::hours(1));
        }
        let token = app.provision().await;
        let user = bank.create_user(&format!("61{i:05}"), None).await;
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
    users
}

/// Sends every user's current code at once; asserts each is accepted, and that the trail
/// holds exactly one success per user.
async fn all_logins_at_once(app: &Arc<TestApp>, bank: &Bank<'_>, users: &[(String, TestToken)]) {
    let mut tasks = Vec::new();
    for (user, token) in users {
        let (app, path, key, code) = (
            app.clone(),
            format!("/v1/banks/{}/users/{user}/otp/verify", bank.id),
            bank.key.clone(),
            token.code_at(app.now_unix()),
        );
        tasks.push(tokio::spawn(async move {
            app.call("POST", &path, Some(&key), Some(json!({ "otp": code })))
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let logins = app.count(
        "SELECT COUNT(*) AS n FROM audit_pending WHERE operation = 'verifyOtp' AND outcome = 'success'",
    )
    .await;
    assert_eq!(logins, users.len() as i64);
}

/// SQLite's group commit: 40 logins at once, each a unit of work, share fewer `COMMIT`s than
/// units (units that queue while one runs join its transaction), and every one of them is
/// durable and exact: 40 successes, 40 audit entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_logins_at_once_share_commits_and_stay_exact() {
    let app = Arc::new(TestApp::new(TestEngine::Sqlite).await);
    let bank = app.bank("jonan-shinkin").await;
    let users = forty_registered_users(&app, &bank).await;
    let before = app.db.group_commits().expect("SQLite commits in groups");
    all_logins_at_once(&app, &bank, &users).await;
    let after = app.db.group_commits().unwrap();
    let units = after.units - before.units;
    let commits = after.commits - before.commits;
    assert!(units >= 40, "{units} units for 40 logins");
    assert!(
        commits < units,
        "{units} units in {commits} commits: none shared a COMMIT"
    );
}

/// PostgreSQL: 40 logins at once are read and accepted in fewer statements than checks (those
/// that arrive while one statement runs go in the next together), and every one is exact:
/// 40 successes, 40 audit entries. Then each user's step is spent: the same 40 codes again are
/// all `otp_already_used`, and nothing was counted as a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_logins_at_once_share_statements_and_stay_exact() {
    let app = Arc::new(TestApp::new(TestEngine::Postgres).await);
    let bank = app.bank("jonan-shinkin").await;
    let users = forty_registered_users(&app, &bank).await;
    let batches = |app: &TestApp| {
        let reads = app.db.read_batches().expect("PostgreSQL reads in batches");
        let writes = app
            .db
            .write_batches()
            .expect("PostgreSQL writes in batches");
        [reads, writes]
    };
    let before = batches(&app);
    all_logins_at_once(&app, &bank, &users).await;
    for (after, before) in batches(&app).into_iter().zip(before) {
        let checks = after.checks - before.checks;
        let statements = after.statements - before.statements;
        assert_eq!(checks, 40, "every login went through the queue");
        assert!(
            statements < checks,
            "{checks} checks in {statements} statements: none shared one"
        );
    }
    for (user, token) in &users {
        let again = bank
            .post(
                &format!("/users/{user}/otp/verify"),
                json!({ "otp": token.code_at(app.now_unix()) }),
            )
            .await;
        assert_eq!(again.code(), Some("otp_already_used"), "{:?}", again.body);
    }
    let failures = app
        .count("SELECT COALESCE(SUM(failures), 0) AS n FROM bindings")
        .await;
    assert_eq!(failures, 0);
}

/// PostgreSQL: forty users' checks at once — twenty fresh codes, ten wrong codes, ten replays
/// — share statements (the three kinds of write go in one), and each does exactly what it would
/// alone: twenty successes, one failure on each of the ten bindings and credentials (each
/// customer told the attempts left), ten replays refused and counted nowhere, one audit entry
/// each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_mixed_checks_at_once_share_statements_and_stay_exact() {
    let app = Arc::new(TestApp::new(TestEngine::Postgres).await);
    let bank = app.bank("jonan-shinkin").await;
    let users = forty_registered_users(&app, &bank).await;
    let now = app.now_unix();
    // The last ten log in first: their codes are replays below.
    for (user, token) in &users[30..] {
        let login = bank
            .post(
                &format!("/users/{user}/otp/verify"),
                json!({ "otp": token.code_at(now) }),
            )
            .await;
        assert_eq!(login.status, 200, "{:?}", login.body);
    }
    let writes = |app: &TestApp| {
        let writes = app
            .db
            .write_batches()
            .expect("PostgreSQL writes in batches");
        (writes.checks, writes.statements)
    };
    let before = writes(&app);
    let mut tasks = Vec::new();
    for (i, (user, token)) in users.iter().enumerate() {
        let (code, expected) = match i {
            0..20 => (token.code_at(now), "accepted"),
            20..30 => (token.wrong_code_at(now), "otp_invalid"),
            _ => (token.code_at(now), "otp_already_used"),
        };
        let (app, path, key) = (
            app.clone(),
            format!("/v1/banks/{}/users/{user}/otp/verify", bank.id),
            bank.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let answer = app
                .call("POST", &path, Some(&key), Some(json!({ "otp": code })))
                .await;
            (expected, answer)
        }));
    }
    for task in tasks {
        let (expected, answer) = task.await.unwrap();
        match expected {
            "accepted" => assert_eq!(answer.status, 200, "{:?}", answer.body),
            code => assert_eq!(answer.code(), Some(code), "{:?}", answer.body),
        }
        if expected == "otp_invalid" {
            assert_eq!(answer.body["attempts_left"], 9, "{:?}", answer.body);
        }
    }
    let after = writes(&app);
    let (checks, statements) = (after.0 - before.0, after.1 - before.1);
    assert_eq!(
        checks, 40,
        "every acceptance, wrong code and replay's entry went through the queue"
    );
    assert!(
        statements < checks,
        "{checks} writes in {statements} statements: none shared one"
    );
    for table in ["bindings", "credentials"] {
        let counted = app
            .count(&format!(
                "SELECT COALESCE(SUM(failures), 0) AS n FROM {table}"
            ))
            .await;
        let once = app
            .count(&format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE failures = 1"
            ))
            .await;
        assert_eq!(
            (counted, once),
            (10, 10),
            "one failure on each of ten {table}"
        );
    }
    let entries = |outcome: &str, code: &str| {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM audit_pending WHERE operation = 'verifyOtp' \
             AND outcome = '{outcome}' AND COALESCE(error_code, '') = '{code}' \
             AND details IS NULL"
        );
        let app = app.clone();
        async move { app.count(&sql).await }
    };
    assert_eq!(
        entries("success", "").await,
        30,
        "ten earlier logins, twenty now"
    );
    assert_eq!(entries("failure", "otp_invalid").await, 10);
    assert_eq!(entries("failure", "otp_already_used").await, 10);
}

/// PostgreSQL: one token at two banks, a fresh code at one and a wrong code at the other at
/// once, five rounds (their statements meet on the credential's row): each round one success
/// and one counted failure, the second bank's binding exactly five failures, and the
/// credential's platform-wide count what the last round's order left (0 or 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_token_accepted_at_one_bank_and_wrong_at_another_at_once() {
    let app = Arc::new(TestApp::new(TestEngine::Postgres).await);
    let jonan = app.bank("jonan-shinkin").await;
    let kitashin = app.bank("kitashin").await;
    let token = app.provision().await;
    let users = [
        jonan.registered_user("7000001", &token).await,
        kitashin.registered_user("7000001", &token).await,
    ];
    for round in 1..=5 {
        app.next_step();
        let now = app.now_unix();
        let send = |bank: &mamori_testkit::Bank<'_>, user: &str, code: String| {
            let (app, path, key) = (
                app.clone(),
                format!("/v1/banks/{}/users/{user}/otp/verify", bank.id),
                bank.key.clone(),
            );
            tokio::spawn(async move {
                app.call("POST", &path, Some(&key), Some(json!({ "otp": code })))
                    .await
            })
        };
        let fresh = send(&jonan, &users[0], token.code_at(now));
        let wrong = send(&kitashin, &users[1], token.wrong_code_at(now));
        let (fresh, wrong) = (fresh.await.unwrap(), wrong.await.unwrap());
        assert_eq!(fresh.status, 200, "round {round}: {:?}", fresh.body);
        assert_eq!(
            wrong.code(),
            Some("otp_invalid"),
            "round {round}: {:?}",
            wrong.body
        );
        assert_eq!(wrong.body["attempts_left"], 10 - round, "{:?}", wrong.body);
    }
    let status = kitashin.status(&users[1]).await;
    assert_eq!(status["failures"].as_u64(), Some(5), "{status}");
    let platform = app
        .count(&format!(
            "SELECT CAST(failures AS BIGINT) AS n FROM credentials WHERE id = '{}'",
            token.credential_id
        ))
        .await;
    assert!(
        (0..=1).contains(&platform),
        "platform-wide count {platform}"
    );
}
