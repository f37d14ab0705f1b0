//! Login and console passwords are hashed with a pepper from the master key: a hash written
//! straight into the database without it never logs in, hashes from before the pepper are
//! wrapped by the operator's upgrade step (`mamori passwords pepper`) and keep working, and each
//! is re-hashed with the pepper at its owner's next successful login.

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use mamori_testkit::{OPERATOR_PASSWORD, TestApp, TestEngine, on_both_engines};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// An argon2id hash without the pepper, as Mamori stored them before it and as anyone with
/// write access to the database can make (the test's own cheap parameters).
fn unpeppered_hash(password: &str) -> String {
    let salt = SaltString::encode_b64(b"planted-salt-001").unwrap();
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(password.as_bytes(), &salt)
    .unwrap()
    .to_string()
}

/// Writes `sql` as a tool with database access would.
async fn write(app: &TestApp, sql: &str) {
    let conn = app.db.connection();
    conn.execute_unprepared(sql).await.unwrap();
}

/// The one text value `sql` selects, named `v`.
async fn text(app: &TestApp, sql: &str) -> String {
    let conn = app.db.connection();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .expect("a row");
    row.try_get::<String>("", "v").unwrap()
}

async fn user_hash(app: &TestApp, user: &str) -> String {
    text(
        app,
        &format!("SELECT password_hash AS v FROM users WHERE id = '{user}'"),
    )
    .await
}

/// A database writer replaces a contract user's hash with the plain argon2id hash of a
/// password they know: startLogin refuses that password (and still takes none but the real one
/// after the writer's hash is gone).
async fn a_planted_hash_without_the_pepper_does_not_log_in(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("johoku-shinkin").await;
    let created = bank
        .post("/users", json!({ "contract_number": "1000001", "user_id": "user01", "display_name": "城北 太郎", "initial_password": "temp1234" }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let user = created.body["id"].as_str().unwrap().to_owned();
    let login = |password: &str| json!({ "contract_number": "1000001", "user_id": "user01", "password": password });
    assert!(
        user_hash(&app, &user).await.contains(",keyid=cDE$"),
        "new hashes carry the pepper's key id"
    );

    write(
        &app,
        &format!(
            "UPDATE users SET password_hash = '{}' WHERE id = '{user}'",
            unpeppered_hash("Planted2026")
        ),
    )
    .await;
    let planted = bank.post("/logins", login("Planted2026")).await;
    assert_eq!(
        (planted.status, planted.code()),
        (401, Some("login_failed")),
        "{:?}",
        planted.body
    );
    // Nor does the key id pasted on help: the hash needs the pepper.
    let relabelled = unpeppered_hash("Planted2026").replacen("p=1$", "p=1,keyid=cDE$", 1);
    write(
        &app,
        &format!("UPDATE users SET password_hash = '{relabelled}' WHERE id = '{user}'"),
    )
    .await;
    let planted = bank.post("/logins", login("Planted2026")).await;
    assert_eq!(planted.code(), Some("login_failed"), "{:?}", planted.body);
}
on_both_engines!(a_planted_hash_without_the_pepper_does_not_log_in);

/// An installation upgraded from before the pepper: its users' hashes, their history and the
/// operators' hashes have no pepper. Until the upgrade step they do not verify; the step wraps
/// every one (in batches, with an audit entry), the users and the operator log in as before,
/// and a successful login leaves a peppered hash behind.
async fn the_pepper_step_wraps_old_hashes_and_logins_re_hash_them(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("johoku-shinkin").await;
    let mut users = Vec::new();
    for n in 1..=3 {
        let created = bank
            .post("/users", json!({ "contract_number": format!("100000{n}"), "display_name": "城北 太郎", "initial_password": "temp1234" }))
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        users.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let services = &app.state.services;
    let first = services.operators.bootstrap().await.unwrap().unwrap();
    let admin = app.set_up_operator("admin", &first.one_time_password).await;
    // As before the pepper: every stored hash plain argon2id.
    let old = unpeppered_hash("temp1234");
    write(&app, &format!("UPDATE users SET password_hash = '{old}'")).await;
    write(&app, &format!("UPDATE password_history SET hash = '{old}'")).await;
    write(
        &app,
        &format!(
            "UPDATE operators SET password_hash = '{}'",
            unpeppered_hash(OPERATOR_PASSWORD)
        ),
    )
    .await;
    let login = json!({ "contract_number": "1000001", "password": "temp1234" });
    assert_eq!(
        bank.post("/logins", login.clone()).await.code(),
        Some("login_failed"),
        "an old hash does not verify before the step"
    );
    write(&app, "UPDATE users SET password_failures = 0").await;
    let legacy = services.password_pepper.legacy().await.unwrap();
    let counted: Vec<(&str, u64)> = legacy.iter().map(|l| (l.table.name, l.hashes)).collect();
    assert_eq!(
        counted,
        [("users", 3), ("password_history", 3), ("operators", 1)]
    );

    let report = services.password_pepper.pepper(2).await.unwrap();
    let wrapped: Vec<(&str, u64, u64)> = report
        .iter()
        .map(|r| (r.table.name, r.wrapped, r.unwrappable))
        .collect();
    assert_eq!(
        wrapped,
        [
            ("users", 3, 0),
            ("password_history", 3, 0),
            ("operators", 1, 0),
            ("token_issues", 0, 0)
        ]
    );
    assert!(services.password_pepper.legacy().await.unwrap().is_empty());
    assert!(
        services
            .password_pepper
            .pepper(2)
            .await
            .unwrap()
            .iter()
            .all(|r| r.wrapped == 0),
        "a second run finds nothing"
    );
    assert!(user_hash(&app, &users[0]).await.contains(",keyid=dzE$"));
    // One platform trail entry per batch that wrapped: users 2 + 1, history 2 + 1, operators 1.
    let trail = admin
        .get("/v1/admin/audit-events?trail=platform&limit=50")
        .await;
    let wraps = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "wrapPasswordHashes")
        .count();
    assert_eq!(wraps, 5, "{:?}", trail.body);

    // The users log in with their passwords; the wrapped hash is replaced by a peppered one.
    let start = bank.post("/logins", login).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert_eq!(start.body["next_step"], "password_change_required");
    let rehashed = user_hash(&app, &users[0]).await;
    assert!(rehashed.contains(",keyid=cDE$"), "{rehashed}");
    assert!(user_hash(&app, &users[1]).await.contains(",keyid=dzE$"));
    // The history is wrapped too: the old password is still known as recently used.
    let again = bank
        .post(
            &format!("/users/{}/password", users[0]),
            json!({ "new_password": "temp1234", "login_id": start.body["login_id"] }),
        )
        .await;
    assert_eq!(again.code(), Some("password_rejected"), "{:?}", again.body);
    assert!(
        again.body["violations"]
            .to_string()
            .contains("password_recently_used"),
        "{:?}",
        again.body
    );
    let second = bank
        .post(
            "/logins",
            json!({ "contract_number": "1000002", "password": "temp1234" }),
        )
        .await;
    assert_eq!(second.status, 200, "{:?}", second.body);

    // The operator signs in to the console as before, and is re-hashed too.
    app.next_step();
    let code = admin.totp.code_at(app.now_unix());
    let signed_in = app
        .admin_sign_in("admin", OPERATOR_PASSWORD, Some(code))
        .await;
    assert_eq!(
        (signed_in.status, signed_in.body["stage"].as_str()),
        (200, Some("active")),
        "{:?}",
        signed_in.body
    );
    let operator_hash = text(&app, "SELECT password_hash AS v FROM operators").await;
    assert!(operator_hash.contains(",keyid=cDE$"), "{operator_hash}");
}
on_both_engines!(the_pepper_step_wraps_old_hashes_and_logins_re_hash_them);
