//! Above the banks' own limits, 100 consecutive wrong codes across all banks suspend the token
//! everywhere (NIST SP 800-63B): unlocking at one bank cannot buy an attacker more guesses.

use mamori_service::PLATFORM_GUESS_BUDGET;
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde_json::json;

async fn a_hundred_wrong_codes_across_unlocks_suspend_the_token_everywhere(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let johoku = app.bank("johoku-shinkin").await;
    let jonan = app.bank("jonan-shinkin").await;
    let token = app.provision().await;

    let at_johoku = johoku.create_user("6000001", Some("u1")).await;
    let now = app.now_unix();
    let reg = johoku
        .post(
            &format!("/users/{at_johoku}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_after(now, -1), "otp2": token.code_at(now) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let at_jonan = jonan.create_user("6000002", None).await;
    let reg = jonan
        .post(
            &format!("/users/{at_jonan}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    let budget = u32::try_from(PLATFORM_GUESS_BUDGET).unwrap();
    let mut last = None;
    for failure in 1..=budget {
        let answer = johoku
            .post(
                &format!("/users/{at_johoku}/otp/verify"),
                json!({ "otp": "000000" }),
            )
            .await;
        if failure < budget {
            assert!(
                matches!(answer.code(), Some("otp_invalid" | "otp_locked")),
                "{failure}: {:?}",
                answer.body
            );
        }
        if answer.code() == Some("otp_locked") {
            // The bank's limit (10) locked it; an attacker talks the support desk into unlocking.
            let unlock = johoku
                .post(&format!("/users/{at_johoku}/credential/unlock"), json!({}))
                .await;
            assert_eq!(unlock.status, 200);
        }
        last = Some(answer);
    }
    let last = last.unwrap();
    assert_eq!(
        (last.status, last.code()),
        (423, Some("credential_suspended")),
        "{:?}",
        last.body
    );

    // Suspended everywhere: a correct code at the other bank is refused.
    app.next_step();
    let answer = jonan
        .post(
            &format!("/users/{at_jonan}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (423, Some("credential_suspended")),
        "{:?}",
        answer.body
    );
    assert_eq!(jonan.status(&at_jonan).await["credential_suspended"], true);
    // And it cannot be registered anew.
    let other = jonan.create_user("6000003", None).await;
    let reg = jonan
        .post(
            &format!("/users/{other}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.code(), Some("credential_suspended"), "{:?}", reg.body);
}
on_both_engines!(a_hundred_wrong_codes_across_unlocks_suspend_the_token_everywhere);
