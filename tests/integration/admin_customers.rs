//! The help desk in the admin console: a locked-out customer found by contract number, user ID
//! or credential ID, seen whole (never a secret), unlocked with a reason the bank reads in its
//! trail; a temporary password; a pending push approval cancelled; a credential's registrations
//! and its platform suspension lifted; the day's figures; the trail filtered and exported.

use mamori_domain::OperatorRole;
use mamori_testkit::{Admin, Bank, TestApp, TestEngine, TestToken, on_both_engines};
use serde_json::{Value, json};

const BANK: &str = "jonan-shinkin";

/// A customer of jonan with a registered token, locked after the bank's 10 wrong codes.
async fn locked_customer<'a>(
    app: &'a TestApp,
    bank: &Bank<'a>,
    contract: &str,
) -> (String, TestToken) {
    let user = bank.create_user(contract, Some("u1")).await;
    let token = app.provision().await;
    app.next_step();
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    for _ in 0..10 {
        bank.post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": "000000" }),
        )
        .await;
    }
    assert_eq!(bank.status(&user).await["status"], "locked");
    (user, token)
}

async fn a_locked_out_customer_is_found_seen_and_unlocked_with_a_reason(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let bank = app.bank(BANK).await;
    let (user, token) = locked_customer(&app, &bank, "4000001").await;

    // Found by each of the three, with full-width digits folded.
    for query in [
        "contract_number=４０００００１".to_owned(),
        "user_id=u1".to_owned(),
        format!("credential_id={}", token.credential_id.to_lowercase()),
    ] {
        let found = admin
            .get(&format!("/v1/admin/banks/{BANK}/users?{query}"))
            .await;
        assert_eq!(found.status, 200, "{query}: {:?}", found.body);
        let items = found.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{query}: {:?}", found.body);
        assert_eq!(items[0]["id"], user.as_str());
        assert_eq!(items[0]["token_state"], "locked");
    }
    let detail = admin
        .get(&format!("/v1/admin/banks/{BANK}/users/{user}"))
        .await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    assert_eq!(detail.body["otp"]["status"], "locked");
    assert_eq!(detail.body["tokens"][0]["failures"], 10);
    assert_eq!(
        detail.body["tokens"][0]["credential_id"],
        token.credential_id.as_str()
    );
    assert!(detail.body["recent_audit"].as_array().unwrap().len() >= 10);
    assert!(!detail.text.contains("secret") && !detail.text.contains("hash\":\"$argon"));

    // Unlocking needs a reason; the bank's trail names the operator and the reason.
    let no_reason = admin
        .post(
            &format!("/v1/admin/banks/{BANK}/users/{user}/token/unlock"),
            json!({ "reason": " " }),
        )
        .await;
    assert_eq!(
        no_reason.code(),
        Some("validation_failed"),
        "{:?}",
        no_reason.body
    );
    let unlocked = admin
        .post(
            &format!("/v1/admin/banks/{BANK}/users/{user}/token/unlock"),
            json!({ "reason": "電話で本人確認のうえ解除" }),
        )
        .await;
    assert_eq!(unlocked.status, 200, "{:?}", unlocked.body);
    assert_eq!(unlocked.body["status"], "in_use");
    let trail = bank.get("/audit-events?limit=1").await;
    let entry = &trail.body["items"][0];
    assert_eq!(entry["operation"], "unlockCredential");
    assert_eq!(entry["actor"], "operator:admin");
    assert!(
        entry["details"]
            .as_str()
            .unwrap()
            .contains("電話で本人確認のうえ解除")
    );
    // The customer logs in again.
    app.next_step();
    let verify = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(verify.status, 200, "{:?}", verify.body);

    // A temporary password, shown once; the next login must change it.
    let reset = admin
        .post(
            &format!("/v1/admin/banks/{BANK}/users/{user}/password/reset"),
            json!({ "reason": "失念" }),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let temporary = reset.body["temporary_password"].as_str().unwrap();
    let login = bank
        .post(
            "/logins",
            json!({ "contract_number": "4000001", "user_id": "u1", "password": temporary }),
        )
        .await;
    assert_eq!(
        login.body["next_step"], "password_change_required",
        "{:?}",
        login.body
    );

    // The figures count what happened, by hour.
    let figures = admin.get(&format!("/v1/admin/banks/{BANK}/figures")).await;
    assert_eq!(figures.status, 200, "{:?}", figures.body);
    let hours = figures.body["hourly"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let sum = |key: &str| hours.iter().map(|h| h[key].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        (sum("codes_rejected"), sum("codes_accepted"), sum("locks")),
        (10, 1, 1)
    );
    assert_eq!(sum("registrations"), 1);
    assert_eq!(figures.body["daily"].as_array().unwrap().len(), 30);
    assert_eq!(figures.body["locked_tokens"], 0);
    // Counting again counts nothing twice.
    let again = admin.get(&format!("/v1/admin/banks/{BANK}/figures")).await;
    assert_eq!(again.body["hourly"], figures.body["hourly"]);
}
on_both_engines!(a_locked_out_customer_is_found_seen_and_unlocked_with_a_reason);

async fn a_bank_operator_helps_only_its_bank_and_an_auditor_only_reads(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let _admin = app.first_admin().await;
    let jonan = app.bank(BANK).await;
    let kitashin = app.bank("kitashin").await;
    let (user, _) = locked_customer(&app, &jonan, "4000002").await;
    let other = kitashin.create_user("4000003", None).await;
    let desk = app
        .operator(
            "kitashin-desk",
            OperatorRole::BankOperator,
            Some("kitashin"),
        )
        .await;
    let auditor = app.operator("auditor", OperatorRole::Auditor, None).await;

    // Another bank's customer is not found, by any route, and nothing changes.
    for answer in [
        desk.get(&format!("/v1/admin/banks/{BANK}/users/{user}"))
            .await,
        desk.post(
            &format!("/v1/admin/banks/{BANK}/users/{user}/token/unlock"),
            json!({ "reason": "x" }),
        )
        .await,
        desk.get(&format!("/v1/admin/banks/kitashin/users/{user}"))
            .await,
    ] {
        assert_eq!(
            (answer.status, answer.code()),
            (404, Some("not_found")),
            "{:?}",
            answer.body
        );
    }
    assert_eq!(jonan.status(&user).await["status"], "locked");
    assert_eq!(
        desk.get(&format!("/v1/admin/banks/kitashin/users/{other}"))
            .await
            .status,
        200
    );

    // The auditor sees, and may not act.
    assert_eq!(
        auditor
            .get(&format!("/v1/admin/banks/{BANK}/users/{user}"))
            .await
            .status,
        200
    );
    let act = auditor
        .post(
            &format!("/v1/admin/banks/{BANK}/users/{user}/token/unlock"),
            json!({ "reason": "x" }),
        )
        .await;
    assert_eq!(
        (act.status, act.code()),
        (403, Some("forbidden")),
        "{:?}",
        act.body
    );
    assert_eq!(jonan.status(&user).await["status"], "locked");
}
on_both_engines!(a_bank_operator_helps_only_its_bank_and_an_auditor_only_reads);

async fn a_credential_shows_its_banks_and_its_suspension_is_lifted(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let jonan = app.bank(BANK).await;
    let (user, token) = locked_customer(&app, &jonan, "4000004").await;
    mamori_store::credentials::count_credential_failure(
        app.db.connection(),
        &token.credential_id,
        1,
        chrono::DateTime::from_timestamp(app.now_unix(), 0).unwrap(),
    )
    .await
    .unwrap();
    let desk = app
        .operator(
            "kitashin-desk",
            OperatorRole::BankOperator,
            Some("kitashin"),
        )
        .await;

    let path = format!("/v1/admin/credentials/{}", token.credential_id);
    let view = admin.get(&path).await;
    assert_eq!(view.status, 200, "{:?}", view.body);
    assert!(view.body["suspended_at"].is_string(), "{:?}", view.body);
    assert_eq!(view.body["registrations"][0]["bank_id"], BANK);
    // A bank that never had it finds nothing.
    assert_eq!(desk.get(&path).await.code(), Some("not_found"));
    assert_eq!(
        desk.post(&format!("{path}/lift-suspension"), json!({ "reason": "x" }))
            .await
            .code(),
        Some("forbidden")
    );
    // The customer's page reads suspended, and the bank's unlock cannot lift it.
    let customer = format!("/v1/admin/banks/{BANK}/users/{user}");
    let detail = admin.get(&customer).await;
    assert_eq!(
        detail.body["otp"]["status"], "suspended",
        "{:?}",
        detail.body
    );
    let unlock = admin
        .post(
            &format!("{customer}/token/unlock"),
            json!({ "reason": "本人確認済み" }),
        )
        .await;
    assert_eq!(
        (unlock.status, unlock.code()),
        (423, Some("platform_operator_required")),
        "{:?}",
        unlock.body
    );
    assert_eq!(admin.get(&customer).await.body["otp"], detail.body["otp"]);
    let lifted = admin
        .post(
            &format!("{path}/lift-suspension"),
            json!({ "reason": "本人確認済み" }),
        )
        .await;
    assert_eq!(lifted.status, 200, "{:?}", lifted.body);
    assert!(lifted.body["suspended_at"].is_null());
    let trail = jonan.get("/audit-events?limit=1").await;
    assert_eq!(
        trail.body["items"][0]["operation"],
        "liftCredentialSuspension"
    );
    // Then the bank's own lock is the bank's to lift again.
    assert_eq!(admin.get(&customer).await.body["otp"]["status"], "locked");
    let unlock = admin
        .post(
            &format!("{customer}/token/unlock"),
            json!({ "reason": "本人確認済み" }),
        )
        .await;
    assert_eq!(unlock.status, 200, "{:?}", unlock.body);
}
on_both_engines!(a_credential_shows_its_banks_and_its_suspension_is_lifted);

async fn a_pending_push_approval_is_cancelled_and_the_outbox_read(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let bank = app.bank("kitakyushu-bank").await;
    let user = bank.create_user("4000005", Some("user01")).await;
    let device = app.provision_device().await;
    app.next_step();
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": device.credential_id(), "otp": device.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    let transfer = json!({
        "transaction": { "kind": "transfer", "amount": "50000", "payee": {
            "bank_code": "0191", "branch_code": "101", "account_number": "7654321", "account_name": "ｷﾀｷﾕｳ ﾊﾅｺ" } },
        "display": { "ja": "振込 50000円", "en": "Transfer JPY 50000" }
    });
    let created = bank
        .post(&format!("/users/{user}/push-approvals"), transfer)
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let approval = created.body["approval_id"].as_str().unwrap();

    let detail = admin
        .get(&format!("/v1/admin/banks/kitakyushu-bank/users/{user}"))
        .await;
    assert_eq!(
        detail.body["pending_approvals"][0]["approval_id"], approval,
        "{:?}",
        detail.body
    );
    let path = format!("/v1/admin/banks/kitakyushu-bank/push-approvals/{approval}/cancel");
    let cancelled = admin
        .post(&path, json!({ "reason": "身に覚えのない振込" }))
        .await;
    assert_eq!(cancelled.status, 204, "{:?}", cancelled.body);
    let state = bank.get(&format!("/push-approvals/{approval}")).await;
    assert_eq!(state.body["status"], "cancelled");
    let twice = admin.post(&path, json!({ "reason": "again" })).await;
    assert_eq!(
        twice.code(),
        Some("push_already_answered"),
        "{:?}",
        twice.body
    );

    let outbox = admin.get("/v1/admin/outbox").await;
    assert_eq!(outbox.status, 200, "{:?}", outbox.body);
}
on_both_engines!(a_pending_push_approval_is_cancelled_and_the_outbox_read);

async fn the_trail_is_filtered_verified_and_exported(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin: Admin<'_> = app.first_admin().await;
    let bank = app.bank(BANK).await;
    let (user, _) = locked_customer(&app, &bank, "4000006").await;

    let failures = admin
        .get(&format!(
            "/v1/admin/audit-events?trail={BANK}&user_id={user}&operation=verifyOtp&outcome=failure"
        ))
        .await;
    assert_eq!(failures.status, 200, "{:?}", failures.body);
    assert_eq!(failures.body["items"].as_array().unwrap().len(), 10);
    let bad = admin
        .get(&format!(
            "/v1/admin/audit-events?trail={BANK}&operation=noSuchThing"
        ))
        .await;
    assert_eq!(bad.code(), Some("validation_failed"));
    let chain = admin
        .get(&format!("/v1/admin/audit-events/verify?trail={BANK}"))
        .await;
    assert_eq!(chain.body["intact"], true, "{:?}", chain.body);

    let csv = admin
        .get(&format!(
            "/v1/admin/audit-events/export.csv?trail={BANK}&user_id={user}"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("audit-jonan-shinkin.csv")
    );
    let lines: Vec<&str> = csv.text.trim_end().split("\r\n").collect();
    assert!(
        lines[0]
            .trim_start_matches('\u{feff}')
            .starts_with("seq,occurred_at,actor")
    );
    assert_eq!(
        lines.len(),
        1 + 12,
        "header, registration, ten failures, user creation: {}",
        csv.text
    );
    let json = admin
        .get(&format!(
            "/v1/admin/audit-events/export.json?trail={BANK}&user_id={user}&outcome=failure"
        ))
        .await;
    let entries: Vec<Value> = serde_json::from_str(&json.text).unwrap();
    assert_eq!(entries.len(), 10);
    assert!(entries.iter().all(|e| e["outcome"] == "failure"));
}
on_both_engines!(the_trail_is_filtered_verified_and_exported);
