//! The admin console's sign-in: password and TOTP code, the first login's setup, one answer for
//! every failure, locks counted exactly, idle timeout, sign-out on every node, CSRF, and the
//! three kinds of credentials kept apart (a bank key never opens an admin route, a session
//! never opens a bank route).

use mamori_domain::{OperatorRole, RateLimit};
use mamori_testkit::{Admin, Answer, OPERATOR_PASSWORD, TestApp, TestEngine, on_both_engines};
use serde_json::json;

/// First start: one platform admin with a one-time password, once; its first login is only
/// setup; password and authenticator enrolled, the console opens.
async fn the_first_admin_sets_up_and_signs_in_with_password_and_code(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let operators = &app.state.services.operators;
    let first = operators.bootstrap().await.unwrap().expect("first admin");
    assert_eq!(first.operator.login_name, "admin");
    assert!(operators.bootstrap().await.unwrap().is_none(), "only once");

    // The one-time password opens only the setup.
    let answer = app
        .admin_sign_in("admin", &first.one_time_password, None)
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["stage"], "setup");
    let cookie = answer.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let setup = Admin::from_sign_in(
        &app,
        "admin",
        &answer,
        mamori_testkit::TestToken::new("x", "AAAAAAAA"),
    );
    let banks = setup.get("/v1/admin/banks").await;
    assert_eq!(
        (banks.status, banks.code()),
        (403, Some("admin_setup_required")),
        "{:?}",
        banks.body
    );
    // The authenticator comes after the new password.
    let early = setup.post("/v1/admin/session/totp", json!({})).await;
    assert_eq!(
        early.code(),
        Some("admin_setup_required"),
        "{:?}",
        early.body
    );
    // A weak new password is refused with every broken rule.
    let weak = setup
        .post(
            "/v1/admin/session/password",
            json!({ "current_password": first.one_time_password, "new_password": "short1" }),
        )
        .await;
    assert_eq!(
        (weak.status, weak.code()),
        (422, Some("password_rejected")),
        "{:?}",
        weak.body
    );
    assert!(
        weak.body["violations"]
            .to_string()
            .contains("password_too_short")
    );

    // The helper finishes the setup the same way the console does.
    drop(setup);
    let admin = app.set_up_operator("admin", &first.one_time_password).await;
    let banks = admin.get("/v1/admin/banks").await;
    assert_eq!(banks.status, 200, "{:?}", banks.body);
    assert!(banks.body["items"].as_array().unwrap().len() >= 6);

    // From now on a sign-in needs the code; the same code works once.
    app.next_step();
    let code = admin.totp.code_at(app.now_unix());
    let without = app.admin_sign_in("admin", OPERATOR_PASSWORD, None).await;
    assert_eq!(
        without.code(),
        Some("admin_login_failed"),
        "{:?}",
        without.body
    );
    let with = app
        .admin_sign_in("admin", OPERATOR_PASSWORD, Some(code.clone()))
        .await;
    assert_eq!(
        (with.status, with.body["stage"].as_str()),
        (200, Some("active")),
        "{:?}",
        with.body
    );
    let replay = app
        .admin_sign_in("admin", OPERATOR_PASSWORD, Some(code))
        .await;
    assert_eq!(
        replay.code(),
        Some("admin_login_failed"),
        "a spent code: {:?}",
        replay.body
    );

    // Every sign-in and the setup are in the platform's trail.
    let trail = admin
        .get("/v1/admin/audit-events?trail=platform&limit=50")
        .await;
    let ops: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["operation"].as_str())
        .collect();
    for op in [
        "adminSignIn",
        "changeOperatorPassword",
        "enrollOperatorTotp",
    ] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
}
on_both_engines!(the_first_admin_sets_up_and_signs_in_with_password_and_code);

/// Unknown operator, wrong password, wrong code and a locked operator answer alike; five
/// failures lock; a platform admin unlocks with a reason.
async fn wrong_passwords_and_codes_lock_an_operator_and_an_admin_unlocks(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let desk = app
        .operator("desk1", OperatorRole::BankOperator, Some("jonan-shinkin"))
        .await;

    let unknown = app.admin_sign_in("nobody", OPERATOR_PASSWORD, None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (401, Some("admin_login_failed"))
    );
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(app.admin_sign_in("desk1", "wrong-password-1", None).await);
    }
    // A right password with a wrong code counts too: the fifth failure locks.
    app.next_step();
    answers.push(
        app.admin_sign_in("desk1", OPERATOR_PASSWORD, Some("000000".into()))
            .await,
    );
    for answer in &answers {
        assert_eq!(
            (answer.status, answer.code()),
            (401, Some("admin_login_failed")),
            "{:?}",
            answer.body
        );
        assert_eq!(
            answer.body["detail"], unknown.body["detail"],
            "one answer for all"
        );
    }
    // Locked: even the right password and code are refused, and the live session ended.
    app.next_step();
    let right = app
        .admin_sign_in(
            "desk1",
            OPERATOR_PASSWORD,
            Some(desk.totp.code_at(app.now_unix())),
        )
        .await;
    assert_eq!(right.code(), Some("admin_login_failed"), "{:?}", right.body);
    let session = desk.get("/v1/admin/session").await;
    assert_eq!(
        session.code(),
        Some("admin_session_required"),
        "{:?}",
        session.body
    );

    let list = admin.get("/v1/admin/operators").await;
    let desk1 = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["login_name"] == "desk1")
        .unwrap()
        .clone();
    assert!(desk1["locked_at"].is_string(), "{desk1:?}");
    let unlocked = admin
        .post(
            &format!(
                "/v1/admin/operators/{}/unlock",
                desk1["id"].as_str().unwrap()
            ),
            json!({ "reason": "本人確認済み" }),
        )
        .await;
    assert_eq!(unlocked.status, 200, "{:?}", unlocked.body);
    desk.sign_in_again().await;
}
on_both_engines!(wrong_passwords_and_codes_lock_an_operator_and_an_admin_unlocks);

async fn sign_in_from(
    app: &TestApp,
    peer: &str,
    login: &str,
    password: &str,
    code: Option<String>,
) -> Answer {
    let mut body = json!({ "login_name": login, "password": password });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    app.call_from(peer, "POST", "/v1/admin/session", &[], Some(body))
        .await
}

/// A stranger who reaches the console and guesses login names is stopped by their own quota of
/// failures before they can lock anyone: here two failures a client, under the five that lock
/// an operator. The operator, from their own desk, still signs in, and successes never count.
async fn a_stranger_runs_out_of_sign_in_failures_before_locking_an_operator(engine: TestEngine) {
    let app = TestApp::configured(engine, |services| {
        services.keyless_limit(RateLimit::per_hour(2))
    })
    .await;
    let _admin = app.first_admin().await;
    let desk = app
        .operator("desk1", OperatorRole::BankOperator, Some("jonan-shinkin"))
        .await;
    const STRANGER: &str = "198.51.100.66";
    const DESK: &str = "203.0.113.10";

    for login in ["nobody", "desk1"] {
        let wrong = sign_in_from(&app, STRANGER, login, "wrong-password-1", None).await;
        assert_eq!(wrong.code(), Some("admin_login_failed"), "{:?}", wrong.body);
    }
    for login in ["desk1", "admin"] {
        let limited = sign_in_from(&app, STRANGER, login, "wrong-password-2", None).await;
        assert_eq!(
            (limited.status, limited.code()),
            (429, Some("rate_limited")),
            "{:?}",
            limited.body
        );
        assert!(limited.header("retry-after").is_some());
    }
    // The refused tries checked no password: desk1 has one failure (the stranger's), so three
    // more from two other addresses leave it one short of the lock.
    const OFFICE: &str = "203.0.113.20";
    for peer in [DESK, DESK, OFFICE] {
        let wrong = sign_in_from(&app, peer, "desk1", "wrong-password-3", None).await;
        assert_eq!(wrong.code(), Some("admin_login_failed"), "{:?}", wrong.body);
    }
    app.next_step();
    let code = Some(desk.totp.code_at(app.now_unix()));
    let own = sign_in_from(&app, OFFICE, "desk1", OPERATOR_PASSWORD, code).await;
    assert_eq!(own.status, 200, "four failures do not lock: {:?}", own.body);
    // Successes give the slot back: the office keeps signing in.
    for _ in 0..3 {
        app.next_step();
        let code = Some(desk.totp.code_at(app.now_unix()));
        let again = sign_in_from(&app, OFFICE, "desk1", OPERATOR_PASSWORD, code).await;
        assert_eq!(again.status, 200, "{:?}", again.body);
    }
}
on_both_engines!(a_stranger_runs_out_of_sign_in_failures_before_locking_an_operator);
/// 20 concurrent wrong passwords: exactly the threshold is counted (reserve first).
async fn concurrent_wrong_passwords_count_exactly_the_threshold(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let _admin = app.first_admin().await;
    let _desk = app.operator("desk2", OperatorRole::Auditor, None).await;
    let tries = (0..20).map(|_| app.admin_sign_in("desk2", "wrong-password-2", None));
    let answers = futures_util::future::join_all(tries).await;
    assert!(
        answers
            .iter()
            .all(|a| a.code() == Some("admin_login_failed"))
    );
    let row = mamori_store::operators::find_by_login(app.db.connection(), "desk2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.password_failures, 5,
        "reserved attempts stop at the threshold"
    );
    assert!(row.locked_at.is_some());
}
on_both_engines!(concurrent_wrong_passwords_count_exactly_the_threshold);

/// A session ends after 30 idle minutes, and a sign-out ends it for every node at once.
async fn sessions_idle_out_and_sign_out_everywhere(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    // Used within 30 minutes, it lives on.
    app.advance(chrono::Duration::minutes(29));
    assert_eq!(admin.get("/v1/admin/session").await.status, 200);
    app.advance(chrono::Duration::minutes(29));
    assert_eq!(admin.get("/v1/admin/session").await.status, 200);
    app.advance(chrono::Duration::minutes(31));
    let idle = admin.get("/v1/admin/session").await;
    assert_eq!(
        (idle.status, idle.code()),
        (401, Some("admin_session_required")),
        "{:?}",
        idle.body
    );

    let again = admin.sign_in_again().await;
    // A second node over the same database.
    let node2 = app.another_node();
    assert_eq!(
        node2
            .call_with_headers(
                "GET",
                "/v1/admin/session",
                None,
                &[("cookie", again.cookie.clone())],
                None
            )
            .await
            .status,
        200
    );
    let out = again.delete("/v1/admin/session").await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = node2
        .call_with_headers(
            "GET",
            "/v1/admin/session",
            None,
            &[("cookie", again.cookie.clone())],
            None,
        )
        .await;
    assert_eq!(
        after.code(),
        Some("admin_session_required"),
        "{:?}",
        after.body
    );
}
on_both_engines!(sessions_idle_out_and_sign_out_everywhere);

/// A state change without the session's anti-forgery token is refused and changes nothing.
async fn state_changes_need_the_anti_forgery_token(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let cookie = [("cookie", admin.cookie.clone())];
    let get = app
        .call_with_headers("GET", "/v1/admin/banks", None, &cookie, None)
        .await;
    assert_eq!(get.status, 200, "a read needs no token");
    let body = json!({ "reason": "forged" });
    for headers in [
        vec![("cookie", admin.cookie.clone())],
        vec![
            ("cookie", admin.cookie.clone()),
            ("x-csrf-token", "forged".to_owned()),
        ],
    ] {
        let post = app
            .call_with_headers(
                "POST",
                "/v1/admin/banks/jonan-shinkin/suspend",
                None,
                &headers,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (post.status, post.code()),
            (403, Some("csrf_token_invalid")),
            "{:?}",
            post.body
        );
    }
    let bank = admin.get("/v1/admin/banks/jonan-shinkin").await;
    assert!(
        bank.body["bank"]["suspended_at"].is_null(),
        "nothing changed: {:?}",
        bank.body
    );
}
on_both_engines!(state_changes_need_the_anti_forgery_token);

/// A bank's API key never opens an admin route; an admin session never opens a bank route.
async fn bank_keys_and_admin_sessions_open_only_their_own_routes(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let bank = app.bank("jonan-shinkin").await;
    let with_key = app
        .call("GET", "/v1/admin/banks", Some(&bank.key), None)
        .await;
    assert_eq!(
        (with_key.status, with_key.code()),
        (401, Some("admin_session_required")),
        "{:?}",
        with_key.body
    );
    let with_session = app
        .call_with_headers(
            "GET",
            "/v1/banks/jonan-shinkin/audit-events",
            None,
            &[
                ("cookie", admin.cookie.clone()),
                ("x-csrf-token", admin.csrf.clone()),
            ],
            None,
        )
        .await;
    assert_eq!(with_session.status, 401, "{:?}", with_session.body);
}
on_both_engines!(bank_keys_and_admin_sessions_open_only_their_own_routes);
