//! The edge refuses what no bank means to send, the same on both engines: control characters
//! (a NUL is refused by PostgreSQL and stored by SQLite) and unknown JSON fields (a misspelt
//! `initial_password` must not create a user without a password). And when the database
//! refuses a statement for good, the answer is a 500 to quote to support, not a 503 that
//! invites retrying forever.

use mamori_testkit::{Answer, TestApp, TestEngine, on_both_engines};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::support::assert_problem;

/// Sends raw JSON text (JSON values cannot hold every escape a client may send).
async fn post_raw(app: &TestApp, path: &str, key: Option<&str>, text: &str) -> Answer {
    let mut req = app
        .client
        .post(path)
        .content_type("application/json")
        .body(text.to_owned());
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    Answer::from_response(req.send().await).await
}

fn assert_bad_request(answer: &Answer, mentions: &str, label: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (400, Some("bad_request")),
        "{label}: {:?}",
        answer.body
    );
    assert_problem(400, &answer.content_type, &answer.body, "bad_request");
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(mentions), "{label}: {detail}");
}

async fn user_count(app: &TestApp) -> i64 {
    let conn = app.db.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM users".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// A NUL (or any control character) in a path ID, a query parameter or a body string is a
/// 400 naming where it was, and nothing is stored: on PostgreSQL this used to be a 503.
async fn control_characters_are_refused_at_the_edge(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("3000001", None).await;
    let base = format!("/v1/banks/{}", bank.id);
    let users_before = user_count(&app).await;

    let bodies = [
        (
            "users",
            r#"{"contract_number":"3000002","display_name":"A\u0000B"}"#,
            "\"display_name\"",
        ),
        (
            "users",
            r#"{"contract_number":"30000\u000003"}"#,
            "\"contract_number\"",
        ),
        (
            "users",
            r#"{"contract_number":"3000004","user_id":"u\u001b[31m"}"#,
            "\"user_id\"",
        ),
        (
            "logins",
            r#"{"contract_number":"3000001\u0000","password":"x"}"#,
            "\"contract_number\"",
        ),
    ];
    for (route, text, field) in bodies {
        let answer = post_raw(&app, &format!("{base}/{route}"), Some(&bank.key), text).await;
        assert_bad_request(&answer, field, text);
    }

    for path in [
        format!("{base}/users/usr_%00abc"),
        format!("{base}/users/{user}%00/otp-status"),
        format!("{base}/users?contract_number=3000001%00"),
        format!("{base}/users?contract_number=3000001&user_id=%1F"),
    ] {
        let answer = app.call("GET", &path, Some(&bank.key), None).await;
        assert_bad_request(&answer, "control character", &path);
    }
    // The keyless token routes too.
    let answer = post_raw(
        &app,
        "/v1/token/credentials/MAMORI0000000000/banks",
        None,
        r#"{"otp":"12\u00003456"}"#,
    )
    .await;
    assert_bad_request(&answer, "control character U+0000", "listCredentialBanks");

    assert_eq!(user_count(&app).await, users_before, "nothing was stored");
    // Ordinary Japanese text, with a full-width space, is of course fine.
    let answer = app
        .call(
            "POST",
            &format!("{base}/users"),
            Some(&bank.key),
            Some(json!({ "contract_number": "3000005", "display_name": "城南　太郎" })),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
}
on_both_engines!(control_characters_are_refused_at_the_edge);

/// A misspelt or unknown field is a 400 naming it, not silently ignored: `inital_password`
/// would otherwise create a user the customer can never log in as.
async fn unknown_json_fields_are_refused(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("3100001", None).await;
    let users_before = user_count(&app).await;
    let base = format!("/v1/banks/{}", bank.id);

    let cases: [(String, Value, &str); 4] = [
        (
            format!("{base}/users"),
            json!({ "contract_number": "3100002", "inital_password": "temp1234" }),
            "inital_password",
        ),
        (
            format!("{base}/users/{user}/otp/verify"),
            json!({ "otp": "123456", "amount": 1000 }),
            "amount",
        ),
        (
            format!("{base}/logins"),
            json!({ "contract_number": "3100001", "password": "x", "pasword": "y" }),
            "pasword",
        ),
        (
            "/v1/token/credentials".to_owned(),
            json!({ "device_key": "x" }),
            "device_key",
        ),
    ];
    for (path, body, field) in cases {
        let key = path.starts_with("/v1/banks/").then_some(bank.key.as_str());
        let answer = app.call("POST", &path, key, Some(body)).await;
        assert_bad_request(&answer, field, &path);
    }
    assert_eq!(user_count(&app).await, users_before, "no user was created");
    assert_eq!(bank.status(&user).await["failures"], 0);
}
on_both_engines!(unknown_json_fields_are_refused);

/// A statement the database refuses for good (here: a table gone from under the server) is a
/// 500 `internal_error` with the request ID and no `Retry-After`; only a database that is away
/// is a 503.
async fn a_refused_statement_is_a_500_not_a_503(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("demo-shinkin").await;
    let conn = app.db.connection();
    let drop = match conn.get_database_backend() {
        sea_orm::DbBackend::Postgres => "DROP TABLE outbox_mails CASCADE",
        _ => "DROP TABLE outbox_mails",
    };
    conn.execute_unprepared(drop).await.unwrap();

    let answer = bank.get("/outbox").await;
    assert_eq!(
        (answer.status, answer.code()),
        (500, Some("internal_error")),
        "{:?}",
        answer.body
    );
    assert_problem(500, &answer.content_type, &answer.body, "internal_error");
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(
        answer.body["request_id"].as_str(),
        answer.header("x-request-id"),
        "the request ID to quote is the one in the header"
    );
}
on_both_engines!(a_refused_statement_is_a_500_not_a_503);
