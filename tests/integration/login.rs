//! The contract login (seed 002): password under the bank's policy, then the OTP.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use mamori_testkit::{Answer, TestApp, TestEngine, on_both_engines};
use serde_json::{Value, json};

fn codes(answer: &Answer) -> Vec<String> {
    answer.body["violations"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| x["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Seed 002 end to end: temporary password → first login forces a change (rules enforced,
/// history 2) → two-code OTP registration → login with password and a new code → 5 wrong
/// passwords lock → support-desk unlock → expiry after 90 days.
async fn seed_002_login_story(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("johoku-shinkin").await;
    let created = bank
        .post("/users", json!({ "contract_number": "1000001", "user_id": "user01", "display_name": "城北 太郎", "initial_password": "temp1234" }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        (
            created.body["password_set"].as_bool(),
            created.body["password_must_change"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert!(
        created.body.get("initial_password").is_none(),
        "a password is never echoed"
    );
    let user = created.body["id"].as_str().unwrap().to_owned();
    let login = |password: &str| json!({ "contract_number": "1000001", "user_id": "user01", "password": password });

    // First login with the temporary password: a change is forced.
    let start = bank.post("/logins", login("temp1234")).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert_eq!(start.body["next_step"], "password_change_required");
    let login_id = start.body["login_id"].as_str().unwrap().to_owned();

    // Every broken rule is named: too short and no digit; the user ID; the old password.
    let bad = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "new_password": "abc", "login_id": login_id }),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (422, Some("password_rejected")),
        "{:?}",
        bad.body
    );
    assert_eq!(codes(&bad), ["password_too_short", "password_needs_digit"]);
    let same = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "new_password": "USER01", "login_id": login_id }),
        )
        .await;
    assert!(
        codes(&same).contains(&"password_same_as_user_id".to_owned()),
        "{:?}",
        same.body
    );
    let old = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "new_password": "temp1234", "login_id": login_id }),
        )
        .await;
    assert_eq!(codes(&old), ["password_recently_used"], "{:?}", old.body);

    // A good password: no token yet, so registration comes next.
    let changed = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "new_password": "Spring2026", "login_id": login_id }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["next_step"], "otp_registration_required");

    // History 2: the next change may not reuse either of the last two.
    let token = app.provision().await;
    let now = app.now_unix();
    let reg = bank
        .post(&format!("/users/{user}/credential"), json!({ "credential_id": token.credential_id, "otp": token.code_after(now, -1), "otp2": token.code_at(now) }))
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    // Login: password, then a new code (the registration codes are spent).
    app.next_step();
    let start = bank.post("/logins", login("Spring2026")).await;
    assert_eq!(start.body["next_step"], "otp_required", "{:?}", start.body);
    let login_id = start.body["login_id"].as_str().unwrap().to_owned();
    let done = bank
        .post(
            &format!("/logins/{login_id}/otp"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["amr"], json!(["pwd", "otp"]));
    // A login ID works once.
    let again = bank
        .post(
            &format!("/logins/{login_id}/otp"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (404, Some("login_expired")),
        "{:?}",
        again.body
    );

    // A login ID expires after 5 minutes.
    app.next_step();
    let start = bank.post("/logins", login("Spring2026")).await;
    let login_id = start.body["login_id"].as_str().unwrap().to_owned();
    app.advance(Duration::minutes(5));
    let late = bank
        .post(
            &format!("/logins/{login_id}/otp"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(late.code(), Some("login_expired"), "{:?}", late.body);

    // 5 wrong passwords in a row lock the user (2.3.1); then even the right one fails.
    for _ in 0..5 {
        let wrong = bank.post("/logins", login("Wrong2026")).await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (401, Some("login_failed")),
            "{:?}",
            wrong.body
        );
    }
    let locked = bank.post("/logins", login("Spring2026")).await;
    assert_eq!(locked.code(), Some("login_failed"), "{:?}", locked.body);
    assert_eq!(
        bank.get(&format!("/users/{user}")).await.body["password_locked"],
        true
    );

    // The support desk unlocks; the right password works again.
    let unlock = bank
        .post(&format!("/users/{user}/password/unlock"), json!({}))
        .await;
    assert_eq!(unlock.status, 200, "{:?}", unlock.body);
    let start = bank.post("/logins", login("Spring2026")).await;
    assert_eq!(start.body["next_step"], "otp_required", "{:?}", start.body);

    // 90 days after the change the password has expired: a change is forced.
    app.advance(Duration::days(90));
    let expired = bank.post("/logins", login("Spring2026")).await;
    assert_eq!(
        expired.body["next_step"], "password_change_required",
        "{:?}",
        expired.body
    );

    // A support-desk reset gives a temporary password that must be changed.
    let reset = bank
        .post(&format!("/users/{user}/password/reset"), json!({}))
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let temporary = reset.body["temporary_password"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = bank.post("/logins", login(&temporary)).await;
    assert_eq!(
        start.body["next_step"], "password_change_required",
        "{:?}",
        start.body
    );
}
on_both_engines!(seed_002_login_story);

/// 20 wrong passwords at once against a limit of 5: exactly 5 counted, then the right one
/// fails too (the user is locked).
async fn twenty_parallel_wrong_passwords_count_five(engine: TestEngine) {
    let app = Arc::new(TestApp::new(engine).await);
    let bank = app.bank("johoku-shinkin").await;
    let created = bank
        .post(
            "/users",
            json!({ "contract_number": "1000002", "initial_password": "temp1234" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        let key = bank.key.clone();
        tasks.push(tokio::spawn(async move {
            app.call(
                "POST",
                "/v1/banks/johoku-shinkin/logins",
                Some(&key),
                Some(json!({ "contract_number": "1000002", "password": "wrong999" })),
            )
            .await
        }));
    }
    let mut tally: HashMap<(u16, Option<String>), usize> = HashMap::new();
    for task in tasks {
        let answer = task.await.unwrap();
        *tally
            .entry((answer.status, answer.code().map(str::to_owned)))
            .or_insert(0) += 1;
    }
    assert_eq!(
        tally.get(&(401, Some("login_failed".into()))),
        Some(&20),
        "{tally:?}"
    );
    let failures = count_failures(&app, "1000002").await;
    assert_eq!(failures, 5, "exactly the limit was counted");
    let right = bank
        .post(
            "/logins",
            json!({ "contract_number": "1000002", "password": "temp1234" }),
        )
        .await;
    assert_eq!(
        right.code(),
        Some("login_failed"),
        "locked: {:?}",
        right.body
    );
}
on_both_engines!(twenty_parallel_wrong_passwords_count_five);

async fn count_failures(app: &TestApp, contract: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = app.db.connection();
    let sql = format!(
        "SELECT CAST(password_failures AS BIGINT) AS n FROM users WHERE contract_number = '{contract}'"
    );
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// No oracle: an unknown user, a wrong password and a locked user get the same body.
async fn unknown_wrong_and_locked_look_the_same(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    for contract in ["2000001", "2000002"] {
        let created = bank
            .post(
                "/users",
                json!({ "contract_number": contract, "initial_password": "temp1234" }),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    for _ in 0..5 {
        bank.post(
            "/logins",
            json!({ "contract_number": "2000002", "password": "wrong999" }),
        )
        .await;
    }
    let strip = |a: Answer| -> (u16, Value) {
        let mut body = a.body;
        body.as_object_mut().unwrap().remove("request_id");
        (a.status, body)
    };
    let unknown = strip(
        bank.post(
            "/logins",
            json!({ "contract_number": "2999999", "password": "temp1234" }),
        )
        .await,
    );
    let wrong = strip(
        bank.post(
            "/logins",
            json!({ "contract_number": "2000001", "password": "wrong999" }),
        )
        .await,
    );
    let locked = strip(
        bank.post(
            "/logins",
            json!({ "contract_number": "2000002", "password": "temp1234" }),
        )
        .await,
    );
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, wrong);
    assert_eq!(wrong, locked);
}
on_both_engines!(unknown_wrong_and_locked_look_the_same);

/// A logged-in user changes the password with the current one; a bank with a timed
/// auto-unlock gets its users back after the wait, and the unlock is in the audit trail.
async fn logged_in_change_and_timed_auto_unlock(engine: TestEngine) {
    use mamori_domain::policy::Ranged;
    use mamori_domain::tenant_config::load_dir;
    let app = TestApp::new(engine).await;
    let mut configs = load_dir(&mamori_testkit::shipped_tenant_configs()).unwrap();
    let jonan = configs
        .iter_mut()
        .find(|c| c.id == "jonan-shinkin")
        .unwrap();
    jonan.policy.password.auto_unlock_minutes = Ranged::new(30).unwrap();
    app.state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();

    let bank = app.bank("jonan-shinkin").await;
    let created = bank
        .post(
            "/users",
            json!({ "contract_number": "3000001", "initial_password": "temp1234" }),
        )
        .await;
    let user = created.body["id"].as_str().unwrap().to_owned();

    let wrong = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "current_password": "nope1234", "new_password": "Winter2026" }),
        )
        .await;
    assert_eq!(wrong.code(), Some("login_failed"), "{:?}", wrong.body);
    let both = bank
        .post(&format!("/users/{user}/password"), json!({ "current_password": "temp1234", "login_id": "lgn_x", "new_password": "Winter2026" }))
        .await;
    assert_eq!(both.code(), Some("validation_failed"), "{:?}", both.body);
    let changed = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "current_password": "temp1234", "new_password": "Winter2026" }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["next_step"], "complete");

    for _ in 0..5 {
        bank.post(
            "/logins",
            json!({ "contract_number": "3000001", "password": "nope1234" }),
        )
        .await;
    }
    let locked = bank
        .post(
            "/logins",
            json!({ "contract_number": "3000001", "password": "Winter2026" }),
        )
        .await;
    assert_eq!(locked.code(), Some("login_failed"), "{:?}", locked.body);
    app.advance(Duration::minutes(29));
    let still = bank
        .post(
            "/logins",
            json!({ "contract_number": "3000001", "password": "Winter2026" }),
        )
        .await;
    assert_eq!(
        still.code(),
        Some("login_failed"),
        "still locked at 29 minutes: {:?}",
        still.body
    );
    app.advance(Duration::minutes(2));
    let back = bank
        .post(
            "/logins",
            json!({ "contract_number": "3000001", "password": "Winter2026" }),
        )
        .await;
    assert_eq!(
        back.status, 200,
        "unlocked after 30 minutes: {:?}",
        back.body
    );
    let audit = bank.get("/audit-events?limit=50").await;
    let unlocks = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "autoUnlockUser")
        .count();
    assert_eq!(unlocks, 1, "the timed unlock is audited once");
}
on_both_engines!(logged_in_change_and_timed_auto_unlock);

/// Seed 002 §2.2 (7): after 利用開始登録 the customer goes straight on to the OTP. The login
/// that answered `otp_registration_required` carries through registerCredential: a new code
/// completes it. It still works once, for this user at this bank only, and expires.
async fn seed_002_first_login_goes_on_to_the_otp_after_registration(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("johoku-shinkin").await;
    let other_bank = app.bank("jonan-shinkin").await;
    let mut users = Vec::new();
    for (contract, user_code) in [("1100001", "first01"), ("1100002", "second02")] {
        let created = bank
            .post("/users", json!({ "contract_number": contract, "user_id": user_code, "initial_password": "temp1234" }))
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        users.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let first_login = |contract: &str, user_code: &str, user: &str| {
        let (contract, user_code, user) =
            (contract.to_owned(), user_code.to_owned(), user.to_owned());
        let bank = &bank;
        async move {
            let start = bank
                .post("/logins", json!({ "contract_number": contract, "user_id": user_code, "password": "temp1234" }))
                .await;
            assert_eq!(
                start.body["next_step"], "password_change_required",
                "{:?}",
                start.body
            );
            let login_id = start.body["login_id"].as_str().unwrap().to_owned();
            let changed = bank
                .post(
                    &format!("/users/{user}/password"),
                    json!({ "new_password": "Spring2026", "login_id": login_id }),
                )
                .await;
            assert_eq!(changed.status, 200, "{:?}", changed.body);
            assert_eq!(changed.body["next_step"], "otp_registration_required");
            assert_eq!(
                changed.body["login_id"],
                login_id.as_str(),
                "the same login goes on"
            );
            login_id
        }
    };
    let (user, second) = (&users[0], &users[1]);
    let login_id = first_login("1100001", "first01", user).await;
    let second_login = first_login("1100002", "second02", second).await;
    let complete = |login_id: &str, otp: String| {
        let path = format!("/logins/{login_id}/otp");
        let bank = &bank;
        async move { bank.post(&path, json!({ "otp": otp })).await }
    };

    // Before registering there is no token to check.
    let token = app.provision().await;
    let early = complete(&login_id, token.code_at(app.now_unix())).await;
    assert_eq!(
        (early.status, early.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        early.body
    );

    // 利用開始登録 with OTP1 + OTP2.
    let now = app.now_unix();
    let otp2 = token.code_at(now);
    let reg = bank
        .post(&format!("/users/{user}/credential"), json!({ "credential_id": token.credential_id, "otp": token.code_after(now, -1), "otp2": otp2 }))
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    // A registration code cannot log in (§2.2 (7) ※); the login is not used up by it.
    let reused = complete(&login_id, otp2).await;
    assert_eq!(
        (reused.status, reused.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        reused.body
    );
    // Another bank cannot use the login ID; another user's login does not reach this token.
    app.next_step();
    let elsewhere = other_bank
        .post(
            &format!("/logins/{login_id}/otp"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(
        (elsewhere.status, elsewhere.code()),
        (404, Some("login_expired")),
        "{:?}",
        elsewhere.body
    );
    let not_theirs = complete(&second_login, token.code_at(app.now_unix())).await;
    assert_eq!(
        (not_theirs.status, not_theirs.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        not_theirs.body
    );

    // The next code completes the same login: no second password entry.
    let done = complete(&login_id, token.code_at(app.now_unix())).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["user_id"], user.as_str());
    assert_eq!(done.body["amr"], json!(["pwd", "otp"]));
    assert!(done.body["receipt"].is_string(), "{:?}", done.body);

    // It works once.
    app.next_step();
    let again = complete(&login_id, token.code_at(app.now_unix())).await;
    assert_eq!(
        (again.status, again.code()),
        (404, Some("login_expired")),
        "{:?}",
        again.body
    );

    // And it expires 5 minutes after it started, registered or not.
    let token2 = app.provision().await;
    let now = app.now_unix();
    let reg = bank
        .post(&format!("/users/{second}/credential"), json!({ "credential_id": token2.credential_id, "otp": token2.code_after(now, -1), "otp2": token2.code_at(now) }))
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.advance(Duration::minutes(5));
    let late = complete(&second_login, token2.code_at(app.now_unix())).await;
    assert_eq!(
        (late.status, late.code()),
        (404, Some("login_expired")),
        "{:?}",
        late.body
    );
}
on_both_engines!(seed_002_first_login_goes_on_to_the_otp_after_registration);

/// Seed 002 §2.2 (8): 「直近 2 世代前までのパスワード…を使用することはできません」. With
/// `history = 2` the current password and the two before it are refused; the one before those
/// is allowed again.
async fn history_two_refuses_the_current_password_and_the_two_before_it(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("johoku-shinkin").await;
    let created = bank
        .post(
            "/users",
            json!({ "contract_number": "1200001", "initial_password": "temp1234" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let user = created.body["id"].as_str().unwrap().to_owned();
    let change = |current: &str, new: &str| {
        let body = json!({ "current_password": current, "new_password": new });
        let path = format!("/users/{user}/password");
        let bank = &bank;
        async move { bank.post(&path, body).await }
    };
    // temp1234 → Spring2026 → Summer2026.
    for (current, new) in [("temp1234", "Spring2026"), ("Spring2026", "Summer2026")] {
        let changed = change(current, new).await;
        assert_eq!(changed.status, 200, "{new}: {:?}", changed.body);
    }
    // The current one and the two before it are refused, and nothing changes.
    for old in ["Summer2026", "Spring2026", "temp1234"] {
        let refused = change("Summer2026", old).await;
        assert_eq!(
            (refused.status, refused.code()),
            (422, Some("password_rejected")),
            "{old}: {:?}",
            refused.body
        );
        assert_eq!(codes(&refused), ["password_recently_used"], "{old}");
    }
    // → Autumn2026: temp1234 is now three generations back and allowed again; the others not.
    let changed = change("Summer2026", "Autumn2026").await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    for old in ["Autumn2026", "Summer2026", "Spring2026"] {
        let refused = change("Autumn2026", old).await;
        assert_eq!(codes(&refused), ["password_recently_used"], "{old}");
    }
    let back = change("Autumn2026", "temp1234").await;
    assert_eq!(back.status, 200, "{:?}", back.body);
}
on_both_engines!(history_two_refuses_the_current_password_and_the_two_before_it);
