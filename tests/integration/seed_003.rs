//! Seed 003 (きたしん, kitashin): トークン発行 by mail → 初期設定 in the app → 利用開始 with a
//! code → 利用解除. The status reads 未登録 → 申請済 → 利用中 → 未登録.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use mamori_domain::tenant_config::load_dir;
use mamori_store::entities::{credentials, token_issues};
use mamori_testkit::{
    Answer, Bank, SmtpSink, TestApp, TestEngine, TestToken, on_both_engines, shipped_tenant_configs,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const BANK: &str = "kitashin";
const MAIL: &str = "abo@docomo.ne.jp";
const PASSWORD: &str = "kita2026";

fn self_issue_policy() -> mamori_domain::policy::SelfIssuePolicy {
    let configs = load_dir(&shipped_tenant_configs()).unwrap();
    let config = configs.iter().find(|c| c.id == BANK).unwrap();
    config.policy.self_issue.clone()
}

async fn issue(bank: &Bank<'_>, user: &str) -> Answer {
    bank.post(
        &format!("/users/{user}/token-issues"),
        json!({ "mail_address": MAIL, "activation_password": PASSWORD }),
    )
    .await
}

fn activation(user_id: &str, password: &str) -> Value {
    json!({ "service_id": BANK, "user_id": user_id, "activation_password": password })
}

async fn activate(app: &TestApp, user_id: &str, password: &str) -> Answer {
    app.call(
        "POST",
        "/v1/token/activations",
        None,
        Some(activation(user_id, password)),
    )
    .await
}

async fn start(bank: &Bank<'_>, user: &str, code: &str) -> Answer {
    bank.post(&format!("/users/{user}/otp-use"), json!({ "otp": code }))
        .await
}

/// The ユーザID a mail body names (the Japanese line comes first).
fn user_id_in(body: &str) -> String {
    let line = body
        .lines()
        .find_map(|line| line.trim().strip_prefix("ユーザID:"))
        .unwrap_or_else(|| panic!("no user ID in the mail:\n{body}"));
    let id = line.trim().to_owned();
    assert!(
        id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id:?}"
    );
    id
}

/// The bank's outbox, newest first.
async fn outbox(bank: &Bank<'_>) -> Vec<Value> {
    let page = bank.get("/outbox").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body["mails"].as_array().unwrap().clone()
}

/// Issues a token and reads the ユーザID from its mail in the bank's outbox.
async fn issue_and_read_mail(bank: &Bank<'_>, user: &str) -> String {
    let issued = issue(bank, user).await;
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    let mails = outbox(bank).await;
    let mail = mails
        .iter()
        .find(|m| m["id"] == issued.body["mail_id"])
        .expect("the issue's mail is in the outbox");
    user_id_in(mail["body"].as_str().unwrap())
}

async fn open_issues(app: &TestApp, user: &str) -> u64 {
    token_issues::Entity::find()
        .filter(token_issues::Column::UserId.eq(user))
        .filter(token_issues::Column::State.is_in(["issued", "activated"]))
        .count(app.db.connection())
        .await
        .unwrap()
}

/// The whole of seed 003 with the mail delivered over real SMTP: the customer reads the user
/// ID from the mail (which never holds the password), the app activates, 利用開始 with a code
/// makes the status 利用中, the next code logs in, and 利用解除 makes it 未登録 again.
async fn seed_003_issue_by_mail_then_activate_start_log_in_and_release(engine: TestEngine) {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_smtp(engine, &sink).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000001", None).await;
    assert_eq!(bank.status(&user).await["status"], "none");

    // 1. トークン発行.
    let issued = issue(&bank, &user).await;
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    assert_eq!(issued.body["status"], "issued");
    assert_eq!(issued.body["mail_address"], MAIL);
    assert_eq!(bank.status(&user).await["status"], "issued");

    // The mail arrives over SMTP, addressed to the customer.
    let mail = sink.wait_for_mail(Duration::from_secs(10)).await;
    assert_eq!(mail.rcpt_to, vec![MAIL.to_owned()]);
    let text = mail.text();
    assert!(text.contains("サービスID: kitashin"), "{text}");
    assert!(text.contains("Service ID: kitashin"), "{text}");
    assert!(text.contains("mamori token activate --server"), "{text}");
    assert!(!mail.data.contains(PASSWORD) && !text.contains(PASSWORD));
    let user_id = user_id_in(&text);
    assert!(text.contains(&format!("--user-id {user_id}")), "{text}");

    // 2. 初期設定 in the app.
    let activated = activate(&app, &user_id, PASSWORD).await;
    assert_eq!(activated.status, 201, "{:?}", activated.body);
    assert_eq!(activated.body["service_id"], BANK);
    let token = TestToken::new(
        activated.body["credential_id"].as_str().unwrap(),
        activated.body["secret"].as_str().unwrap(),
    );
    assert_eq!(bank.status(&user).await["status"], "issued");

    // 3. 利用開始 with one code.
    app.next_step();
    let started = start(&bank, &user, &token.code_at(app.now_unix())).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.body["status"], "in_use");
    assert_eq!(started.body["credential_id"], token.credential_id.as_str());

    // The next code logs in.
    app.next_step();
    let login = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    // 4. 利用解除.
    let released = bank.delete(&format!("/users/{user}/otp-use")).await;
    assert_eq!(released.status, 200, "{:?}", released.body);
    assert_eq!(released.body["status"], "none");
    app.next_step();
    let after = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(after.code(), Some("otp_not_registered"), "{:?}", after.body);

    // The outbox shows the mail as sent (marked once the server's 250 reaches Mamori).
    let mut sent = Value::Null;
    for _ in 0..100 {
        sent = outbox(&bank).await[0]["sent_at"].clone();
        if !sent.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent.is_string(), "the mail is marked sent");
    assert_eq!(sink.mails().len(), 1, "one mail, sent once");
}
on_both_engines!(seed_003_issue_by_mail_then_activate_start_log_in_and_release);

/// Without SMTP the outbox is the mailbox: the mail is there, unsent, naming the bank, the
/// service ID and the user ID, never the password — and what it says activates the token.
async fn without_smtp_the_mail_waits_in_the_outbox(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000002", None).await;
    assert!(outbox(&bank).await.is_empty());
    let issued = issue(&bank, &user).await;
    assert_eq!(issued.status, 201, "{:?}", issued.body);

    let mails = outbox(&bank).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["id"], issued.body["mail_id"]);
    assert_eq!(mail["recipient"], MAIL);
    assert!(mail.get("sent_at").is_none(), "nothing is sent: {mail}");
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.contains("きたしん") && subject.contains("Kitashin"),
        "{subject}"
    );
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("サービスID: kitashin"), "{body}");
    assert!(!body.contains(PASSWORD), "{body}");

    let activated = activate(&app, &user_id_in(body), PASSWORD).await;
    assert_eq!(activated.status, 201, "{:?}", activated.body);
}
on_both_engines!(without_smtp_the_mail_waits_in_the_outbox);

/// Five wrong activation passwords (the bank's limit) invalidate the issue: the right password
/// afterwards is refused too, and the status reads 未登録: the bank must issue again. Every
/// refusal is the same `activation_failed` without an attempt count (see `keyless.rs`); the
/// bank's audit trail says what happened.
async fn five_wrong_activation_passwords_lock_the_issue(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000003", None).await;
    let user_id = issue_and_read_mail(&bank, &user).await;
    let max = self_issue_policy().activation_max_attempts.get();
    assert_eq!(max, 5);

    for _ in 0..max {
        let wrong = activate(&app, &user_id, "wrong2026").await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (422, Some("activation_failed")),
            "{:?}",
            wrong.body
        );
        assert!(
            wrong.body.get("attempts_left").is_none(),
            "{:?}",
            wrong.body
        );
    }
    let right = activate(&app, &user_id, PASSWORD).await;
    assert_eq!(
        (right.status, right.code()),
        (422, Some("activation_failed")),
        "{:?}",
        right.body
    );
    assert_eq!(bank.status(&user).await["status"], "none");

    let trail = bank.get("/audit-events?limit=20").await;
    let whys: Vec<String> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "activateToken")
        .map(|e| {
            let details: Value = serde_json::from_str(e["details"].as_str().unwrap()).unwrap();
            details["why"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        whys,
        [
            "invalidated",
            "wrong_password_locked",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password"
        ],
        "newest first: {:?}",
        trail.body
    );
}
on_both_engines!(five_wrong_activation_passwords_lock_the_issue);

/// An issue not activated within the bank's days expires (the injected clock moves).
async fn an_issue_not_activated_in_time_expires(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000004", None).await;
    let user_id = issue_and_read_mail(&bank, &user).await;

    let days = self_issue_policy().activation_valid_days.get();
    app.advance(Days::days(i64::from(days)) - Days::seconds(1));
    assert_eq!(bank.status(&user).await["status"], "issued");
    app.advance(Days::seconds(1));
    assert_eq!(bank.status(&user).await["status"], "none");
    let late = activate(&app, &user_id, PASSWORD).await;
    assert_eq!(
        (late.status, late.code()),
        (422, Some("activation_failed")),
        "{:?}",
        late.body
    );
}
on_both_engines!(an_issue_not_activated_in_time_expires);

/// An issue activates once: a second activation with the right password is refused
/// (`activation_failed`), and five correct activations at once make exactly one credential.
async fn an_issue_activates_once_even_when_tried_at_once(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let bank = app.bank(BANK).await;

    let first = bank.create_user("3000005", None).await;
    let user_id = issue_and_read_mail(&bank, &first).await;
    assert_eq!(activate(&app, &user_id, PASSWORD).await.status, 201);
    let again = activate(&app, &user_id, PASSWORD).await;
    assert_eq!(
        (again.status, again.code()),
        (422, Some("activation_failed")),
        "{:?}",
        again.body
    );

    let second = bank.create_user("3000006", None).await;
    let user_id = issue_and_read_mail(&bank, &second).await;
    let credentials_before = credentials::Entity::find()
        .count(app.db.connection())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let app = app.clone();
            let body = activation(&user_id, PASSWORD);
            tokio::spawn(async move {
                app.call("POST", "/v1/token/activations", None, Some(body))
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        answers.push((answer.status, answer.code().map(str::to_owned)));
    }
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| a.0 == 201 || *a == (422, Some("activation_failed".to_owned()))),
        "{answers:?}"
    );
    let credentials_after = credentials::Entity::find()
        .count(app.db.connection())
        .await
        .unwrap();
    assert_eq!(credentials_after, credentials_before + 1);
}
on_both_engines!(an_issue_activates_once_even_when_tried_at_once);

/// A reissue (the customer lost the mail) cancels the old issue: the old user ID no longer
/// activates, the new one does. Five issueToken calls at once leave exactly one open issue.
async fn a_reissue_cancels_the_old_issue(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000007", None).await;
    let old_id = issue_and_read_mail(&bank, &user).await;
    let new_id = issue_and_read_mail(&bank, &user).await;
    assert_ne!(old_id, new_id);
    let mails = outbox(&bank).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(
        user_id_in(mails[0]["body"].as_str().unwrap()),
        new_id,
        "newest first"
    );

    let old = activate(&app, &old_id, PASSWORD).await;
    assert_eq!(old.code(), Some("activation_failed"), "{:?}", old.body);
    assert_eq!(activate(&app, &new_id, PASSWORD).await.status, 201);

    let racer = bank.create_user("3000008", None).await;
    let path = format!("/v1/banks/{BANK}/users/{racer}/token-issues");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (app, path, key) = (app.clone(), path.clone(), bank.key.clone());
            tokio::spawn(async move {
                app.call(
                    "POST",
                    &path,
                    Some(&key),
                    Some(json!({ "mail_address": MAIL, "activation_password": PASSWORD })),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        let answer = task.await.unwrap();
        assert!(
            answer.status == 201 || answer.code() == Some("token_not_activated"),
            "{:?}",
            answer.body
        );
    }
    assert_eq!(open_issues(&app, &racer).await, 1);
    assert_eq!(bank.status(&racer).await["status"], "issued");
}
on_both_engines!(a_reissue_cancels_the_old_issue);

/// 利用開始 needs an activated token: before the app's 初期設定 it is `token_not_activated`,
/// without any issue `otp_not_registered`; a user with a token in use cannot be issued another.
async fn start_before_activation_is_refused(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000009", None).await;
    let none = start(&bank, &user, "123456").await;
    assert_eq!(
        (none.status, none.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        none.body
    );
    assert_eq!(issue(&bank, &user).await.status, 201);
    let early = start(&bank, &user, "123456").await;
    assert_eq!(
        (early.status, early.code()),
        (409, Some("token_not_activated")),
        "{:?}",
        early.body
    );

    // Once in use, no second issue.
    let user_id = user_id_in(outbox(&bank).await[0]["body"].as_str().unwrap());
    let activated = activate(&app, &user_id, PASSWORD).await;
    let token = TestToken::new(
        activated.body["credential_id"].as_str().unwrap(),
        activated.body["secret"].as_str().unwrap(),
    );
    app.next_step();
    assert_eq!(
        start(&bank, &user, &token.code_at(app.now_unix()))
            .await
            .status,
        200
    );
    let twice = issue(&bank, &user).await;
    assert_eq!(
        (twice.status, twice.code()),
        (409, Some("credential_already_registered")),
        "{:?}",
        twice.body
    );
}
on_both_engines!(start_before_activation_is_refused);

/// issueToken checks what the IB sends: a mail address, an activation password mixing letters
/// and digits; and only banks with `self_issue.enabled` issue at all.
async fn issue_refuses_bad_input_and_banks_without_self_issue(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("3000010", None).await;
    for (mail, password) in [("not-an-address", PASSWORD), (MAIL, "kitashinkin")] {
        let answer = bank
            .post(
                &format!("/users/{user}/token-issues"),
                json!({ "mail_address": mail, "activation_password": password }),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, Some("validation_failed")),
            "{:?}",
            answer.body
        );
    }
    assert_eq!(bank.status(&user).await["status"], "none");
    assert!(outbox(&bank).await.is_empty());

    let other = app.bank("jonan-shinkin").await;
    let theirs = other.create_user("3000011", None).await;
    let refused = issue(&other, &theirs).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, Some("self_issue_disabled")),
        "{:?}",
        refused.body
    );
    let start = start(&other, &theirs, "123456").await;
    assert_eq!(
        start.code(),
        Some("self_issue_disabled"),
        "{:?}",
        start.body
    );
    let activation = app
        .call(
            "POST",
            "/v1/token/activations",
            None,
            Some(json!({
                "service_id": "jonan-shinkin",
                "user_id": "0123456789",
                "activation_password": PASSWORD,
            })),
        )
        .await;
    assert_eq!(
        activation.code(),
        Some("activation_failed"),
        "{:?}",
        activation.body
    );
}
on_both_engines!(issue_refuses_bad_input_and_banks_without_self_issue);
