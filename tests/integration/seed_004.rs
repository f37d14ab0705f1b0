//! Seed 004 (城南信用金庫, jonan-shinkin): one-code registration, one token for several
//! contracts and banks with separate locks, the platform-wide single use of a code, device
//! change (機種変更) and stop (利用停止).

use mamori_domain::tenant_config::load_dir;
use mamori_testkit::{
    Answer, Bank, TestApp, TestEngine, TestToken, on_both_engines, shipped_tenant_configs,
};
use serde_json::{Value, json};

/// The bank's OTP lock threshold, read from its shipped config file.
fn lock_threshold(bank: &str) -> u32 {
    let configs = load_dir(&shipped_tenant_configs()).unwrap();
    let config = configs.iter().find(|c| c.id == bank).unwrap();
    config.policy.otp.lock_threshold.get()
}

/// A six-digit code that is none of the token's codes around `now` (so it is surely wrong).
fn wrong_code(token: &TestToken, now: i64) -> String {
    let near: Vec<String> = (-3..=3).map(|s| token.code_after(now, s)).collect();
    (0..)
        .map(|n: u32| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

async fn register(bank: &Bank<'_>, user: &str, token: &TestToken, code: &str) -> Answer {
    bank.post(
        &format!("/users/{user}/credential"),
        json!({ "credential_id": token.credential_id, "otp": code }),
    )
    .await
}

async fn verify(bank: &Bank<'_>, user: &str, code: &str) -> Answer {
    bank.post(&format!("/users/{user}/otp/verify"), json!({ "otp": code }))
        .await
}

fn status_of(status: &Value) -> (Option<&str>, Option<u64>) {
    (status["status"].as_str(), status["failures"].as_u64())
}

/// Seed 004 §「同じトークンIDで複数のインターネットバンキングサービスを利用することが可能です」:
/// one token registered to two jonan contracts and to a shinkin-001 user. Locking one jonan
/// binding leaves the other two working; a code spent at one bank is `otp_already_used` at the
/// other in the same step, and that refusal is not counted.
async fn seed_004_one_token_many_contracts_separate_locks(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let other = app.bank("shinkin-001").await;
    let first = jonan.create_user("2000001", None).await;
    let second = jonan.create_user("2000002", None).await;
    let elsewhere = other.create_user("3000001", None).await;
    let token = app.provision().await;

    // One code registers at this bank; each registration spends its step, so each takes a
    // fresh code.
    for (bank, user) in [(&jonan, &first), (&jonan, &second), (&other, &elsewhere)] {
        app.next_step();
        let reg = register(bank, user, &token, &token.code_at(app.now_unix())).await;
        assert_eq!(reg.status, 201, "{}: {:?}", bank.id, reg.body);
        assert_eq!(reg.body["status"], "in_use", "{:?}", reg.body);
        assert_eq!(reg.body["credential_id"], token.credential_id.as_str());
    }

    // Lock the first contract's binding with wrong codes, as many as its config allows.
    let threshold = lock_threshold("jonan-shinkin");
    let before = jonan.status(&first).await;
    assert_eq!(
        before["attempts_left"].as_u64(),
        Some(u64::from(threshold)),
        "{before}"
    );
    app.next_step();
    let wrong = wrong_code(&token, app.now_unix());
    for attempt in 1..=threshold {
        let answer = verify(&jonan, &first, &wrong).await;
        let expected = if attempt < threshold {
            (422, Some("otp_invalid"))
        } else {
            (423, Some("otp_locked"))
        };
        assert_eq!(
            (answer.status, answer.code()),
            expected,
            "attempt {attempt}: {:?}",
            answer.body
        );
    }
    let locked = jonan.status(&first).await;
    assert_eq!(
        status_of(&locked),
        (Some("locked"), Some(u64::from(threshold))),
        "{locked}"
    );

    // The same token still logs in for the second contract and at the other bank.
    app.next_step();
    let login = verify(&jonan, &second, &token.code_at(app.now_unix())).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    app.next_step();
    let login = verify(&other, &elsewhere, &token.code_at(app.now_unix())).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    // ...and a current code on the locked binding is refused without being checked.
    app.next_step();
    let code = token.code_at(app.now_unix());
    let refused = verify(&jonan, &first, &code).await;
    assert_eq!(
        (refused.status, refused.code()),
        (423, Some("otp_locked")),
        "{:?}",
        refused.body
    );

    // A code accepted at one bank is spent on the whole platform: the other bank refuses it in
    // the same step as already used, and does not count it.
    let accepted = verify(&other, &elsewhere, &code).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let before = jonan.status(&second).await;
    let reused = verify(&jonan, &second, &code).await;
    assert_eq!(
        (reused.status, reused.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        reused.body
    );
    let after = jonan.status(&second).await;
    assert_eq!(status_of(&after), status_of(&before), "{after}");
    assert_eq!(status_of(&after), (Some("in_use"), Some(0)), "{after}");
    assert_eq!(after["attempts_left"], before["attempts_left"], "{after}");

    // The lock stays where it was.
    let still = jonan.status(&first).await;
    assert_eq!(
        status_of(&still),
        (Some("locked"), Some(u64::from(threshold))),
        "{still}"
    );
}
on_both_engines!(seed_004_one_token_many_contracts_separate_locks);

/// Seed 004 機種変更: the old token's code, then the new credential ID and its code. A failed
/// change (wrong new code) changes nothing and the old token keeps working; a successful one
/// moves the user to the new token, whose old codes then fail at this bank only.
async fn seed_004_device_change(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let other = app.bank("shinkin-001").await;
    let user = jonan.create_user("2000011", None).await;
    let elsewhere = other.create_user("3000011", None).await;
    let old = app.provision().await;
    let new = app.provision().await;
    let reg = register(&jonan, &user, &old, &old.code_at(app.now_unix())).await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let reg = register(&other, &elsewhere, &old, &old.code_at(app.now_unix())).await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    // A wrong code of the new token: refused, and nothing changes.
    app.next_step();
    let now = app.now_unix();
    let before = jonan.status(&user).await;
    let failed = jonan
        .post(
            &format!("/users/{user}/credential/change-device"),
            json!({
                "old_otp": old.code_at(now),
                "new_credential_id": new.credential_id,
                "new_otp": wrong_code(&new, now),
            }),
        )
        .await;
    assert_eq!(
        (failed.status, failed.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        failed.body
    );
    let after = jonan.status(&user).await;
    assert_eq!(after, before, "a failed device change changes nothing");
    assert_eq!(
        after["credential_id"],
        old.credential_id.as_str(),
        "{after}"
    );
    // The old code was not spent by the failed change: the old token still logs in with it.
    let login = verify(&jonan, &user, &old.code_at(now)).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["credential_id"], old.credential_id.as_str());

    // The real change: old token's code + new credential ID + new token's code.
    app.next_step();
    let now = app.now_unix();
    let changed = jonan
        .post(
            &format!("/users/{user}/credential/change-device"),
            json!({
                "old_otp": old.code_at(now),
                "new_credential_id": new.credential_id,
                "new_otp": new.code_at(now),
            }),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["status"], "in_use", "{:?}", changed.body);
    assert_eq!(changed.body["credential_id"], new.credential_id.as_str());
    let status = jonan.status(&user).await;
    assert_eq!(
        status["credential_id"],
        new.credential_id.as_str(),
        "{status}"
    );

    // The old token's codes no longer log in here (the live binding is the new token's)...
    app.next_step();
    let stale = verify(&jonan, &user, &old.code_at(app.now_unix())).await;
    assert_eq!(
        (stale.status, stale.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        stale.body
    );
    // ...but its registration at the other bank is untouched.
    let there = verify(&other, &elsewhere, &old.code_at(app.now_unix())).await;
    assert_eq!(there.status, 200, "{:?}", there.body);
    // The new token logs in here.
    let login = verify(&jonan, &user, &new.code_at(app.now_unix())).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["credential_id"], new.credential_id.as_str());
}
on_both_engines!(seed_004_device_change);

/// Seed 004 利用停止: a current code stops OTP use; the user then has no token to check
/// (`otp_not_registered`), and can register again afterwards.
async fn seed_004_stop_and_register_again(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let user = jonan.create_user("2000021", None).await;
    let token = app.provision().await;
    let reg = register(&jonan, &user, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    app.next_step();
    let stop = jonan
        .post(
            &format!("/users/{user}/credential/stop"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(stop.status, 200, "{:?}", stop.body);
    let status = jonan.status(&user).await;
    assert_eq!(status["status"], "stopped", "{status}");

    app.next_step();
    let after = verify(&jonan, &user, &token.code_at(app.now_unix())).await;
    assert_eq!(
        (after.status, after.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        after.body
    );

    // Registering again works, with a fresh code.
    app.next_step();
    let again = register(&jonan, &user, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["status"], "in_use", "{:?}", again.body);
    app.next_step();
    let login = verify(&jonan, &user, &token.code_at(app.now_unix())).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}
on_both_engines!(seed_004_stop_and_register_again);
