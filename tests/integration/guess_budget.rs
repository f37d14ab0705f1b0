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

    // The platform operator lifts the suspension, with a reason both banks can read.
    let services = &app.state.services;
    let meta = mamori_service::RequestMeta::default();
    let lifted = services
        .platform
        .lift_credential_suspension(
            "ops1",
            &meta,
            &token.credential_id,
            "owner called; ID checked",
        )
        .await
        .unwrap();
    assert_eq!(lifted.banks, vec!["johoku-shinkin", "jonan-shinkin"]);
    assert_eq!(jonan.status(&at_jonan).await["credential_suspended"], false);
    app.next_step();
    let answer = jonan
        .post(
            &format!("/users/{at_jonan}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    for bank in [&johoku, &jonan] {
        let trail = bank.get("/audit-events?limit=5").await;
        let entry = trail.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["operation"] == "liftCredentialSuspension")
            .unwrap_or_else(|| panic!("{}: {:?}", bank.id, trail.body))
            .clone();
        assert_eq!(entry["actor"], "operator:ops1");
        assert!(
            entry["details"]
                .as_str()
                .unwrap()
                .contains("owner called; ID checked")
        );
    }
    // Lifting what is not suspended changes nothing and says so.
    let again = services
        .platform
        .lift_credential_suspension("ops1", &meta, &token.credential_id, "again")
        .await;
    assert!(
        matches!(again, Err(mamori_service::ServiceError::Invalid(_))),
        "{again:?}"
    );
}
on_both_engines!(a_hundred_wrong_codes_across_unlocks_suspend_the_token_everywhere);

/// The high finding of the security review: a customer of any bank who types a victim's
/// credential ID at registration with wrong codes must not spend the victim's platform budget.
/// Wrong codes at registration count only against the registering user (and client), never
/// against the credential; the victim's token keeps working everywhere.
async fn strangers_registering_a_victims_token_cannot_suspend_it(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let victims_bank = app.bank("jonan-shinkin").await;
    let attackers_bank = app.bank("kitashin").await;
    let victim = app.provision().await;
    let at_victims_bank = victims_bank.registered_user("7000001", &victim).await;

    // Many attacker accounts, each spraying wrong codes at the victim's credential ID: twice
    // the platform budget in all, through registerCredential and changeDevice's new token.
    let attacker_token = app.provision().await;
    let budget = usize::try_from(PLATFORM_GUESS_BUDGET).unwrap();
    let mut sent = 0;
    let mut account = 0;
    while sent < 2 * budget {
        account += 1;
        let attacker = attackers_bank
            .registered_user(&format!("8{account:06}"), &attacker_token)
            .await;
        // Each account goes on until the registration limit stops it (its own token locks on
        // the way: the old code is wrong too).
        for _ in 0..20 {
            let answer = attackers_bank
                .post(
                    &format!("/users/{attacker}/credential/change-device"),
                    json!({
                        "old_otp": "000000",
                        "new_credential_id": victim.credential_id,
                        "new_otp": "000000",
                    }),
                )
                .await;
            sent += 1;
            assert!(
                matches!(
                    answer.code(),
                    Some("otp_invalid" | "otp_locked" | "rate_limited")
                ),
                "{:?}",
                answer.body
            );
            if answer.code() == Some("rate_limited") {
                break;
            }
        }
        let fresh = attackers_bank
            .create_user(&format!("9{account:06}"), None)
            .await;
        for _ in 0..20 {
            let answer = attackers_bank
                .post(
                    &format!("/users/{fresh}/credential"),
                    json!({ "credential_id": victim.credential_id, "otp": "000000" }),
                )
                .await;
            sent += 1;
            assert!(
                matches!(answer.code(), Some("otp_invalid" | "rate_limited")),
                "{:?}",
                answer.body
            );
            if answer.code() == Some("rate_limited") {
                break;
            }
        }
    }

    // The victim's token is not suspended and still works at the victim's bank.
    let status = victims_bank.status(&at_victims_bank).await;
    assert_eq!(status["credential_suspended"], false, "{status:?}");
    app.next_step();
    let answer = victims_bank
        .post(
            &format!("/users/{at_victims_bank}/otp/verify"),
            json!({ "otp": victim.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}
on_both_engines!(strangers_registering_a_victims_token_cannot_suspend_it);

/// Registration attempts are limited per (bank, user), reserved before the code is checked:
/// once the limit is reached even a correct code is not checked until the window passes.
async fn registration_attempts_are_limited_per_user(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let token = app.provision().await;
    let user = bank.create_user("7100001", None).await;
    let limit = mamori_service::Limits::default().registration_per_user.max;
    for attempt in 1..=limit {
        let answer = bank
            .post(
                &format!("/users/{user}/credential"),
                json!({ "credential_id": token.credential_id, "otp": "000000" }),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (422, Some("otp_invalid")),
            "attempt {attempt}: {:?}",
            answer.body
        );
    }
    app.next_step();
    let correct =
        json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) });
    let answer = bank
        .post(&format!("/users/{user}/credential"), correct.clone())
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (429, Some("rate_limited")),
        "{:?}",
        answer.body
    );
    assert_eq!(bank.status(&user).await["status"], "none");

    // Another user of the same bank is not held back by this one's attempts.
    let other = bank.create_user("7100002", None).await;
    let answer = bank
        .post(&format!("/users/{other}/credential"), correct)
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);

    // An hour later the user may try again, and a fresh code registers the token.
    app.advance(chrono::Duration::hours(1));
    let second = app.provision().await;
    let answer = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": second.credential_id, "otp": second.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
}
on_both_engines!(registration_attempts_are_limited_per_user);

/// Wrong codes at `bank` (unlocking at the bank's own lock, as an attacker might talk the
/// support desk into) until the platform budget suspends the token.
async fn suspend_by_wrong_codes(bank: &mamori_testkit::Bank<'_>, user: &str) {
    let mut answer = None;
    for _ in 0..PLATFORM_GUESS_BUDGET {
        let wrong = bank
            .post(
                &format!("/users/{user}/otp/verify"),
                json!({ "otp": "000000" }),
            )
            .await;
        if wrong.code() == Some("otp_locked") {
            let unlock = bank
                .post(&format!("/users/{user}/credential/unlock"), json!({}))
                .await;
            assert_eq!(unlock.status, 200, "{:?}", unlock.body);
        }
        answer = Some(wrong);
    }
    let last = answer.unwrap();
    assert_eq!(
        (last.status, last.code()),
        (423, Some("credential_suspended")),
        "{:?}",
        last.body
    );
}

/// What a bank sees of a platform suspension: getOtpStatus reads `suspended` at every bank
/// that has the token (not `in_use`, nor `locked`, which the bank could lift), and the bank's
/// unlockCredential is refused — only a platform operator lifts it — and changes nothing.
async fn a_platform_suspension_shows_at_the_bank_which_cannot_unlock_it(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let kitashin = app.bank("kitashin").await;
    let token = app.provision().await;
    let at_jonan = jonan.registered_user("7200001", &token).await;
    let at_kitashin = kitashin.registered_user("7200002", &token).await;
    suspend_by_wrong_codes(&jonan, &at_jonan).await;

    for (bank, user) in [(&jonan, &at_jonan), (&kitashin, &at_kitashin)] {
        let status = bank.status(user).await;
        assert_eq!(status["status"], "suspended", "{}: {status:?}", bank.id);
        assert_eq!(
            status["credential_suspended"], true,
            "{}: {status:?}",
            bank.id
        );
        assert_eq!(status["credential_id"], token.credential_id.as_str());
        assert!(
            status.get("attempts_left").is_none(),
            "no code is checked while suspended: {status:?}"
        );

        let before = bank.status(user).await;
        let unlock = bank
            .post(&format!("/users/{user}/credential/unlock"), json!({}))
            .await;
        assert_eq!(
            (unlock.status, unlock.code()),
            (423, Some("platform_operator_required")),
            "{}: {:?}",
            bank.id,
            unlock.body
        );
        assert!(
            unlock.body["detail"]
                .as_str()
                .unwrap()
                .contains("プラットフォーム運用担当者"),
            "{:?}",
            unlock.body
        );
        assert_eq!(
            bank.status(user).await,
            before,
            "{}: nothing changed",
            bank.id
        );
        let trail = bank.get("/audit-events?limit=1").await;
        let entry = &trail.body["items"][0];
        assert_eq!(entry["operation"], "unlockCredential", "{entry}");
        assert_eq!(entry["error_code"], "platform_operator_required", "{entry}");
    }
    // Still refused everywhere: the bank's unlock bought no guesses.
    app.next_step();
    let answer = kitashin
        .post(
            &format!("/users/{at_kitashin}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(
        answer.code(),
        Some("credential_suspended"),
        "{:?}",
        answer.body
    );

    // Once the platform operator lifts it, the bank's own lock (if any) is the bank's again.
    app.state
        .services
        .platform
        .lift_credential_suspension(
            "ops1",
            &mamori_service::RequestMeta::default(),
            &token.credential_id,
            "owner called; ID checked",
        )
        .await
        .unwrap();
    let status = jonan.status(&at_jonan).await;
    assert!(
        matches!(status["status"].as_str(), Some("locked" | "in_use")),
        "{status:?}"
    );
    assert_eq!(status["credential_suspended"], false);
    let unlock = jonan
        .post(&format!("/users/{at_jonan}/credential/unlock"), json!({}))
        .await;
    assert_eq!(unlock.status, 200, "{:?}", unlock.body);
    assert_eq!(unlock.body["status"], "in_use", "{:?}", unlock.body);
    assert_eq!(kitashin.status(&at_kitashin).await["status"], "in_use");
}
on_both_engines!(a_platform_suspension_shows_at_the_bank_which_cannot_unlock_it);
