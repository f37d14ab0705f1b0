//! listCredentialBanks: the customer's own token asks where it is registered. Nothing is shown
//! without a fresh code of the token; the code is spent on the whole platform and a wrong one
//! counts towards no lock or suspension, only towards the client's quota of failures.

use mamori_service::PLATFORM_GUESS_BUDGET;
use mamori_store::entities::credentials;
use mamori_testkit::{Answer, Bank, TestApp, TestEngine, TestToken, on_both_engines};
use sea_orm::EntityTrait;
use serde_json::json;

async fn list(app: &TestApp, token: &TestToken, code: &str) -> Answer {
    app.call(
        "POST",
        &format!("/v1/token/credentials/{}/banks", token.credential_id),
        None,
        Some(json!({ "otp": code })),
    )
    .await
}

async fn register(app: &TestApp, bank: &Bank<'_>, user: &str, token: &TestToken) {
    app.next_step();
    let answer = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}: {:?}", bank.id, answer.body);
}

async fn a_token_at_two_banks_lists_both_after_a_fresh_code(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let kitashin = app.bank("kitashin").await;
    let token = app.provision().await;

    // Registered nowhere yet: an empty list, not an error.
    let empty = list(&app, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(empty.status, 200, "{:?}", empty.body);
    assert_eq!(empty.body["banks"], json!([]));

    let at_jonan = jonan.create_user("7000001", None).await;
    register(&app, &jonan, &at_jonan, &token).await;
    let at_kitashin = kitashin.create_user("7000002", None).await;
    register(&app, &kitashin, &at_kitashin, &token).await;

    app.next_step();
    let listed = list(&app, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["credential_id"], token.credential_id.as_str());
    let banks = listed.body["banks"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str, &str)> = banks
        .iter()
        .map(|b| {
            (
                b["bank_id"].as_str().unwrap(),
                b["bank_name"]["ja"].as_str().unwrap(),
                b["bank_name"]["en"].as_str().unwrap(),
                b["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "jonan-shinkin",
                "城南信用金庫",
                "Johnan Shinkin Bank",
                "in_use"
            ),
            ("kitashin", "きたしん", "Kitashin", "in_use"),
        ]
    );
    assert!(
        banks[0]["registered_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-22T09:3"),
        "{:?}",
        banks[0]
    );

    // A bank that locked the token still lists it, as locked; a stopped one is gone.
    app.next_step();
    let wrong = token.wrong_code_at(app.now_unix());
    for _ in 0..10 {
        jonan
            .post(
                &format!("/users/{at_jonan}/otp/verify"),
                json!({ "otp": wrong }),
            )
            .await;
    }
    assert_eq!(jonan.status(&at_jonan).await["status"], "locked");
    app.next_step();
    let stop = kitashin
        .post(
            &format!("/users/{at_kitashin}/credential/stop"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(stop.status, 200, "{:?}", stop.body);
    app.next_step();
    let listed = list(&app, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(
        listed.body["banks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (
                b["bank_id"].as_str().unwrap(),
                b["status"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("jonan-shinkin", "locked")]
    );
}
on_both_engines!(a_token_at_two_banks_lists_both_after_a_fresh_code);

async fn wrong_codes_list_nothing_and_cannot_suspend_the_token(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let token = app.provision().await;
    let user = jonan.create_user("7100001", None).await;
    register(&app, &jonan, &user, &token).await;
    let before = jonan.status(&user).await;

    app.next_step();
    let wrong = list(&app, &token, &token.wrong_code_at(app.now_unix())).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        wrong.body
    );
    assert!(wrong.body.get("banks").is_none(), "{:?}", wrong.body);
    // The bank's own count is untouched: this was no attempt at the bank.
    assert_eq!(jonan.status(&user).await, before);

    // A stranger who knows the credential ID cannot suspend the token with wrong codes
    // here: nothing counted, and after a burst of them the token still logs in everywhere.
    let platform_failures = || async {
        credentials::Entity::find_by_id(token.credential_id.clone())
            .one(app.db.connection())
            .await
            .unwrap()
            .unwrap()
            .failures
    };
    assert_eq!(platform_failures().await, 0);
    let mut limited = None;
    for _ in 0..PLATFORM_GUESS_BUDGET {
        let answer = list(&app, &token, &token.wrong_code_at(app.now_unix())).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer.code(), Some("otp_invalid"), "{:?}", answer.body);
    }
    assert_eq!(
        limited.map(|a| a.code().map(str::to_owned)),
        Some(Some("rate_limited".to_owned())),
        "a client's guesses are limited"
    );
    assert_eq!(platform_failures().await, 0);
    assert_eq!(jonan.status(&user).await["credential_suspended"], false);
    let login = jonan
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}
on_both_engines!(wrong_codes_list_nothing_and_cannot_suspend_the_token);

async fn a_listing_code_is_spent_for_every_bank(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let token = app.provision().await;
    let user = jonan.create_user("7200001", None).await;
    register(&app, &jonan, &user, &token).await;

    app.next_step();
    let code = token.code_at(app.now_unix());
    assert_eq!(list(&app, &token, &code).await.status, 200);
    let again = list(&app, &token, &code).await;
    assert_eq!(
        (again.status, again.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        again.body
    );
    // The customer cannot then log in at the bank with the same code in the same step, and
    // the refusal costs them no attempt.
    let login = jonan
        .post(&format!("/users/{user}/otp/verify"), json!({ "otp": code }))
        .await;
    assert_eq!(
        (login.status, login.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        login.body
    );
    assert_eq!(jonan.status(&user).await["failures"], 0);
    app.next_step();
    let login = jonan
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "the next code works: {:?}", login.body);
}
on_both_engines!(a_listing_code_is_spent_for_every_bank);

async fn bad_input_is_refused_without_counting(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let token = app.provision().await;
    let malformed = list(&app, &token, "12345").await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, Some("otp_malformed"))
    );
    let bad_id = app
        .call(
            "POST",
            "/v1/token/credentials/AB1/banks",
            None,
            Some(json!({ "otp": "123456" })),
        )
        .await;
    assert_eq!(
        (bad_id.status, bad_id.code()),
        (400, Some("credential_id_malformed"))
    );
    // What is not even the shape of an ID is malformed; an unissued ID (or a serial never
    // imported) answers like a wrong code, so the route tells no stranger which IDs exist.
    let unknown_id = (0..10)
        .map(|d| format!("MAMO{:07}{d}", 1))
        .find(|id| mamori_otp::CredentialId::parse(id).is_ok())
        .unwrap();
    let unknown = app
        .call(
            "POST",
            &format!("/v1/token/credentials/{unknown_id}/banks"),
            None,
            Some(json!({ "otp": "123456" })),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (422, Some("otp_invalid")));
    // Nothing above counted: the current code still works.
    let ok = list(&app, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
}
on_both_engines!(bad_input_is_refused_without_counting);

async fn listings_are_rate_limited_per_address(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let token = app.provision().await;
    for i in 0..20 {
        let answer = list(&app, &token, &token.wrong_code_at(app.now_unix())).await;
        assert_ne!(answer.status, 429, "request {i}: {:?}", answer.body);
    }
    let limited = list(&app, &token, &token.code_at(app.now_unix())).await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, Some("rate_limited")),
        "{:?}",
        limited.body
    );
}
on_both_engines!(listings_are_rate_limited_per_address);
