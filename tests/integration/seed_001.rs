//! Seed 001 (信用金庫 個人向けIB, shinkin-001): register a token with one code, log in with the
//! next, stop (利用停止) with a current code.

use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde_json::json;

/// Seed 001: 「トークン ID とワンタイムパスワードを入力し、「登録」」 — one code registers (two
/// are refused at this bank, and the refusal registers nothing); the registration code is spent;
/// the next code logs in; a current code stops OTP use, after which the user has no token.
async fn seed_001_register_use_stop(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("shinkin-001").await;
    let user = bank.create_user("4000001", None).await;
    let token = app.provision().await;
    let now = app.now_unix();

    // This bank registers with one code: OTP1 + OTP2 is refused and changes nothing.
    let two = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({
                "credential_id": token.credential_id,
                "otp": token.code_after(now, -1),
                "otp2": token.code_at(now),
            }),
        )
        .await;
    assert_eq!(
        (two.status, two.code()),
        (400, Some("validation_failed")),
        "{:?}",
        two.body
    );
    assert_eq!(bank.status(&user).await["status"], "none");

    // 利用登録 with the token ID and the current code.
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(now) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    assert_eq!(reg.body["status"], "in_use", "{:?}", reg.body);
    assert_eq!(reg.body["credential_id"], token.credential_id.as_str());

    // The registration code cannot log in; the next one does.
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
    app.next_step();
    let login = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["result"], "accepted", "{:?}", login.body);
    let status = bank.status(&user).await;
    assert_eq!(status["status"], "in_use", "{status}");
    assert!(status["last_success_at"].is_string(), "{status}");

    // 利用停止 with a current code.
    app.next_step();
    let stop = bank
        .post(
            &format!("/users/{user}/credential/stop"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(stop.status, 200, "{:?}", stop.body);
    let status = bank.status(&user).await;
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(
        status["credential_id"],
        token.credential_id.as_str(),
        "{status}"
    );

    // After the stop, codes are no longer checked for this user.
    app.next_step();
    let after = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(
        (after.status, after.code()),
        (404, Some("otp_not_registered")),
        "{:?}",
        after.body
    );
}
on_both_engines!(seed_001_register_use_stop);
