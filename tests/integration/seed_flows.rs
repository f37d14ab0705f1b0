//! The seeds' flows end to end through the Bank API, with codes from an independent TOTP
//! implementation and time from the injected clock.

use chrono::Duration;
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde_json::json;

/// Seed 002 (城北信用金庫): two-code registration; the registration codes are spent; 10 wrong
/// codes lock; the bank unlocks; a phone 3 minutes fast fails, resyncs with two consecutive
/// codes, and logs in.
async fn seed_002_johoku(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("johoku-shinkin").await;
    let user = bank.create_user("1000001", Some("user01")).await;
    let mut token = app.provision().await;
    let now = app.now_unix();

    // Registration needs two consecutive codes at this bank: one is refused.
    let one = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(now) }),
        )
        .await;
    assert_eq!(
        (one.status, one.code()),
        (400, Some("validation_failed")),
        "{:?}",
        one.body
    );

    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_after(now, -1), "otp2": token.code_at(now) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    assert_eq!(reg.body["status"], "in_use");

    // 2.2(7): the code used for registration cannot log in.
    let reuse = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(now) }),
        )
        .await;
    assert_eq!(
        (reuse.status, reuse.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        reuse.body
    );

    // The next code logs in.
    app.next_step();
    let login = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["credential_id"], token.credential_id.as_str());

    // 10 wrong codes in a row lock the token (2.5.2); attempts left count down.
    for attempt in 1..=10 {
        let wrong = bank
            .post(
                &format!("/users/{user}/otp/verify"),
                json!({ "otp": "000000" }),
            )
            .await;
        if attempt < 10 {
            assert_eq!(
                (wrong.status, wrong.code()),
                (422, Some("otp_invalid")),
                "{:?}",
                wrong.body
            );
            assert_eq!(wrong.body["attempts_left"], 10 - attempt);
        } else {
            assert_eq!(
                (wrong.status, wrong.code()),
                (423, Some("otp_locked")),
                "{:?}",
                wrong.body
            );
        }
    }
    // A correct code on a locked token is refused and not counted.
    app.next_step();
    let locked = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!((locked.status, locked.code()), (423, Some("otp_locked")));
    let status = bank.status(&user).await;
    assert_eq!(
        (status["status"].as_str(), status["failures"].as_u64()),
        (Some("locked"), Some(10))
    );

    // The support desk unlocks.
    let unlock = bank
        .post(&format!("/users/{user}/credential/unlock"), json!({}))
        .await;
    assert_eq!(unlock.status, 200, "{:?}", unlock.body);
    assert_eq!(unlock.body["status"], "in_use");
    assert_eq!(unlock.body["failures"], 0);

    // The phone's clock runs 3 minutes fast: its codes fail at login.
    token.clock_offset = 180;
    app.next_step();
    let fast = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(
        (fast.status, fast.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        fast.body
    );

    // 同期ズレ補正 with two consecutive codes teaches Mamori the offset...
    let now = app.now_unix();
    let resync = bank
        .post(
            &format!("/users/{user}/credential/resync"),
            json!({ "otp1": token.code_at(now), "otp2": token.code_after(now, 1) }),
        )
        .await;
    assert_eq!(resync.status, 200, "{:?}", resync.body);

    // ...and the next code logs in.
    app.advance(Duration::seconds(60));
    let login = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}
on_both_engines!(seed_002_johoku);
