//! The bank's audit trail: every attempt and change, newest first, paged by cursor, linked in a
//! hash chain that reports the first altered or missing entry. A bank sees only its own.

use std::collections::HashSet;

use mamori_testkit::{Answer, Bank, TestApp, TestEngine, on_both_engines};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// Sends a request with the bank's key and our own `X-Request-Id`.
async fn send(app: &TestApp, bank: &Bank<'_>, path: &str, body: Value, request_id: &str) -> Answer {
    let resp = app
        .client
        .post(format!("/v1/banks/{}{path}", bank.id))
        .header("authorization", format!("Bearer {}", bank.key))
        .header("x-request-id", request_id)
        .content_type("application/json")
        .body(body.to_string())
        .send()
        .await;
    Answer::from_response(resp).await
}

/// What a bank did, as the tests remember it.
pub(crate) struct History {
    pub(crate) user: String,
    pub(crate) credential_id: String,
    /// (request ID, operation, outcome, error code), oldest first.
    steps: Vec<(
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    )>,
}

/// Creates a user, registers a token, fails one login, logs in, and fails a resync: five
/// entries with our request IDs.
pub(crate) async fn some_operations(app: &TestApp, bank: &Bank<'_>) -> History {
    let token = app.provision().await;
    let created = send(
        app,
        bank,
        "/users",
        json!({ "contract_number": "9000001" }),
        "req-create",
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let user = created.body["id"].as_str().unwrap().to_owned();
    let reg = send(
        app,
        bank,
        &format!("/users/{user}/credential"),
        json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        "req-register",
    )
    .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let now = app.now_unix();
    let near: Vec<String> = (-12..=12).map(|s| token.code_after(now, s)).collect();
    let wrong = (0..)
        .map(|n: u32| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap();
    let failed = send(
        app,
        bank,
        &format!("/users/{user}/otp/verify"),
        json!({ "otp": wrong }),
        "req-wrong",
    )
    .await;
    assert_eq!(failed.body["code"], "otp_invalid", "{:?}", failed.body);
    let login = send(
        app,
        bank,
        &format!("/users/{user}/otp/verify"),
        json!({ "otp": token.code_at(now) }),
        "req-login",
    )
    .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    app.next_step();
    let resync = send(
        app,
        bank,
        &format!("/users/{user}/credential/resync"),
        json!({ "otp1": wrong, "otp2": wrong }),
        "req-resync",
    )
    .await;
    assert_eq!(resync.body["code"], "resync_failed", "{:?}", resync.body);
    History {
        user,
        credential_id: token.credential_id,
        steps: vec![
            ("req-create", "createUser", "success", None),
            ("req-register", "registerCredential", "success", None),
            ("req-wrong", "verifyOtp", "failure", Some("otp_invalid")),
            ("req-login", "verifyOtp", "success", None),
            (
                "req-resync",
                "resyncCredential",
                "failure",
                Some("resync_failed"),
            ),
        ],
    }
}

/// The whole trail, one page.
pub(crate) async fn all_entries(bank: &Bank<'_>) -> Vec<Value> {
    let page = bank.get("/audit-events?limit=200").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert!(page.body.get("next_cursor").is_none(), "{:?}", page.body);
    page.body["items"].as_array().unwrap().clone()
}

pub(crate) async fn chain(bank: &Bank<'_>) -> Value {
    let answer = bank.get("/audit-events/verify").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// The entry a request produced.
pub(crate) fn entry_of<'a>(entries: &'a [Value], request_id: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no entry for {request_id}: {entries:?}"))
}

pub(crate) async fn execute(app: &TestApp, sql: &str) {
    app.db.connection().execute_unprepared(sql).await.unwrap();
}

/// The trail lists each operation newest first with its request ID, operation, outcome, error
/// code and user/credential; limit=2 pages walk every entry exactly once; the chain is intact;
/// another bank sees none of it.
async fn audit_trail_lists_pages_and_verifies(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let other = app.bank("shinkin-001").await;
    other.create_user("9100001", None).await;
    let history = some_operations(&app, &bank).await;

    let entries = all_entries(&bank).await;
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    // Our operations are the newest entries, in reverse order.
    let newest: Vec<&str> = entries
        .iter()
        .take(history.steps.len())
        .map(|e| e["request_id"].as_str().unwrap_or(""))
        .collect();
    let expected: Vec<&str> = history.steps.iter().rev().map(|s| s.0).collect();
    assert_eq!(newest, expected, "{entries:?}");
    for (request_id, operation, outcome, error_code) in &history.steps {
        let entry = entry_of(&entries, request_id);
        assert_eq!(entry["operation"], *operation, "{entry}");
        assert_eq!(entry["outcome"], *outcome, "{entry}");
        assert_eq!(entry["error_code"].as_str(), *error_code, "{entry}");
        assert_eq!(entry["user_id"], history.user.as_str(), "{entry}");
        assert!(
            entry["actor"].as_str().unwrap().starts_with("bank:"),
            "{entry}"
        );
        assert!(
            entry["hash"].as_str().is_some_and(|h| h.len() == 64),
            "{entry}"
        );
        if *operation != "createUser" {
            assert_eq!(
                entry["credential_id"],
                history.credential_id.as_str(),
                "{entry}"
            );
        }
    }
    // No code or secret in the trail.
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("\"otp\""), "{text}");

    // limit=2 pages walk everything once.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            None => "/audit-events?limit=2".to_owned(),
            Some(c) => format!("/audit-events?limit=2&cursor={c}"),
        };
        let page = bank.get(&path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{:?}", page.body);
        walked.extend(items.iter().map(|e| e["seq"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<i64> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len(), "duplicates: {walked:?}");
    assert_eq!(walked, seqs, "pages walk the whole trail in order");

    let check = chain(&bank).await;
    assert_eq!(check["intact"], true, "{check}");
    assert_eq!(
        check["entries"].as_u64(),
        Some(entries.len() as u64),
        "{check}"
    );

    // Bank B sees only its own entries.
    let theirs = all_entries(&other).await;
    assert!(!theirs.is_empty());
    let ours: HashSet<&str> = entries
        .iter()
        .map(|e| e["hash"].as_str().unwrap())
        .collect();
    for entry in &theirs {
        assert!(!ours.contains(entry["hash"].as_str().unwrap()), "{entry}");
        assert_ne!(entry["user_id"], history.user.as_str(), "{entry}");
        assert!(
            !history.steps.iter().any(|s| entry["request_id"] == s.0),
            "{entry}"
        );
    }
    assert_eq!(chain(&other).await["intact"], true);
}
on_both_engines!(audit_trail_lists_pages_and_verifies);

/// Rewriting a failure as a success in the database breaks the chain at that entry.
async fn altered_entry_breaks_the_chain(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let other = app.bank("shinkin-001").await;
    other.create_user("9100002", None).await;
    some_operations(&app, &bank).await;
    let entries = all_entries(&bank).await;
    let failure = entry_of(&entries, "req-wrong");
    let seq = failure["seq"].as_i64().unwrap();

    execute(
        &app,
        &format!(
            "UPDATE audit_events SET outcome = 'success', error_code = NULL \
             WHERE tenant_id = 'jonan-shinkin' AND seq = {seq}"
        ),
    )
    .await;
    // The edit took: the trail now shows a success...
    let edited = all_entries(&bank).await;
    assert_eq!(entry_of(&edited, "req-wrong")["outcome"], "success");
    // ...and the chain says where.
    let check = chain(&bank).await;
    assert_eq!(check["intact"], false, "{check}");
    assert_eq!(check["broken_at_seq"].as_i64(), Some(seq), "{check}");
    assert!(
        check["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{check}"
    );
    // Another bank's chain is its own.
    assert_eq!(chain(&other).await["intact"], true);
}
on_both_engines!(altered_entry_breaks_the_chain);

/// Deleting an entry in the middle breaks the chain at the missing sequence number.
async fn deleted_middle_entry_breaks_the_chain(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    some_operations(&app, &bank).await;
    let entries = all_entries(&bank).await;
    let seq = entry_of(&entries, "req-wrong")["seq"].as_i64().unwrap();
    assert!(seq < entries[0]["seq"].as_i64().unwrap(), "a middle entry");

    execute(
        &app,
        &format!("DELETE FROM audit_events WHERE tenant_id = 'jonan-shinkin' AND seq = {seq}"),
    )
    .await;
    assert_eq!(all_entries(&bank).await.len(), entries.len() - 1);
    let check = chain(&bank).await;
    assert_eq!(check["intact"], false, "{check}");
    assert_eq!(check["broken_at_seq"].as_i64(), Some(seq), "{check}");
}
on_both_engines!(deleted_middle_entry_breaks_the_chain);

/// Deleting the newest entry (which leaves a chain that links perfectly) is caught too: the
/// break is reported at the missing newest sequence number.
async fn deleted_newest_entry_breaks_the_chain(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    some_operations(&app, &bank).await;
    let entries = all_entries(&bank).await;
    let newest = entries[0]["seq"].as_i64().unwrap();
    assert_eq!(entries[0]["request_id"], "req-resync");

    execute(
        &app,
        &format!("DELETE FROM audit_events WHERE tenant_id = 'jonan-shinkin' AND seq = {newest}"),
    )
    .await;
    assert_eq!(all_entries(&bank).await.len(), entries.len() - 1);
    let check = chain(&bank).await;
    assert_eq!(check["intact"], false, "{check}");
    assert_eq!(check["broken_at_seq"].as_i64(), Some(newest), "{check}");
}
on_both_engines!(deleted_newest_entry_breaks_the_chain);

/// Code checks never wait on the bank's chain: their entries wait in `audit_pending` while two
/// nodes' sealers link them concurrently with the checks. Afterwards every request is in the
/// chain exactly once, nothing waits, and the chain verifies with no gap.
async fn checks_and_two_sealers_at_once_leave_one_whole_chain(engine: TestEngine) {
    let app = std::sync::Arc::new(TestApp::new(engine).await);
    let bank = app.bank("jonan-shinkin").await;
    let mut users = Vec::new();
    for i in 0..4 {
        let token = app.provision().await;
        let user = bank.create_user(&format!("930000{i}"), None).await;
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
    // Nothing linked yet: a check's entry never touches the chain head.
    let pending = app.count("SELECT COUNT(*) AS n FROM audit_pending").await;
    assert!(pending >= 8, "setup entries wait to be sealed: {pending}");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut sealers = Vec::new();
    for services in [
        app.state.services.clone(),
        app.another_node().state.services.clone(),
    ] {
        let stop = stop.clone();
        sealers.push(tokio::spawn(async move {
            let mut sealed = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sealed += services.audit.seal_all().await.unwrap().entries;
                tokio::task::yield_now().await;
            }
            sealed
        }));
    }
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (i, (user, token)) in users.iter().enumerate() {
            let code = if round == 0 {
                token.code_at(app.now_unix())
            } else {
                "000000".to_owned()
            };
            let (app, path, key) = (
                app.clone(),
                format!("/v1/banks/{}/users/{user}/otp/verify", bank.id),
                bank.key.clone(),
            );
            let request_id = format!("storm-{round}-{i}");
            tasks.push(tokio::spawn(async move {
                let answer = app
                    .call_with_headers(
                        "POST",
                        &path,
                        Some(&key),
                        &[("x-request-id", request_id)],
                        Some(json!({ "otp": code })),
                    )
                    .await;
                assert!(
                    [200, 422, 409].contains(&answer.status),
                    "{}: {:?}",
                    answer.status,
                    answer.body
                );
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sealed_by_sealers = 0;
    for sealer in sealers {
        sealed_by_sealers += sealer.await.unwrap();
    }
    let entries = all_entries(&bank).await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_pending").await,
        0,
        "a read seals what waits"
    );
    for round in 0..4 {
        for i in 0..users.len() {
            let id = format!("storm-{round}-{i}");
            let n = entries.iter().filter(|e| e["request_id"] == id).count();
            assert_eq!(n, 1, "{id} is in the chain once");
        }
    }
    let total = app
        .count("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = 'jonan-shinkin'")
        .await;
    assert_eq!(total as usize, entries.len());
    assert!(sealed_by_sealers > 0, "the sealers ran beside the checks");
    let check = chain(&bank).await;
    assert_eq!(check["intact"], true, "{check}");
    assert_eq!(check["entries"].as_u64(), Some(total as u64), "{check}");
}
on_both_engines!(checks_and_two_sealers_at_once_leave_one_whole_chain);

/// An entry whose transaction took its id early but committed after a later entry was sealed
/// (PostgreSQL hands out ids before commit) is sealed by the next run all the same: the sealer
/// takes whatever waits, never "everything after the last id".
async fn an_entry_committed_late_is_sealed_all_the_same(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    // A genuine entry waits; its row id is moved, as a transaction that took its id later but
    // committed first would have it (the MAC covers the entry, not its place in the table).
    let waits_with_id = |id: i64, request: &'static str, contract: &'static str| {
        let (app, bank) = (&app, &bank);
        async move {
            let created = send(
                app,
                bank,
                "/users",
                serde_json::json!({ "contract_number": contract }),
                request,
            )
            .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            execute(
                app,
                &format!("UPDATE audit_pending SET id = {id} WHERE request_id = '{request}'"),
            )
            .await;
        }
    };
    waits_with_id(1_000_000, "later-id", "9400001").await;
    assert_eq!(chain(&bank).await["intact"], true);
    waits_with_id(999_999, "earlier-id-committed-later", "9400002").await;
    let entries = all_entries(&bank).await;
    let later = entry_of(&entries, "later-id")["seq"].as_i64().unwrap();
    let earlier = entry_of(&entries, "earlier-id-committed-later")["seq"]
        .as_i64()
        .unwrap();
    assert_eq!(
        earlier,
        later + 1,
        "sealed in commit order, after the other"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_pending").await,
        0
    );
    assert_eq!(chain(&bank).await["intact"], true);
}
on_both_engines!(an_entry_committed_late_is_sealed_all_the_same);
