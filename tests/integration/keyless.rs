//! The keyless token routes (activateToken, listCredentialBanks, listPendingApprovals,
//! answerPushApproval) tell a stranger nothing and cannot be used up by one: every failure is
//! one answer (same status, code and body but the request ID), each client has its own quota
//! of failures, and a customer's successes never count.

use chrono::Duration;
use mamori_domain::RateLimit;
use mamori_domain::push::{PushDecision, listing_message};
use mamori_store::entities::credentials;
use mamori_testkit::{
    Answer, Bank, DeviceAnswer, TestApp, TestDevice, TestEngine, TestToken, on_both_engines,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

/// A customer's phone.
const OWNER: &str = "203.0.113.10";
/// Someone who knows the customer's IDs.
const STRANGER: &str = "198.51.100.66";

/// What a caller can tell apart: the status and the whole body but its request ID.
fn seen(answer: &Answer) -> Value {
    let mut body = answer.body.clone();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("request_id");
    }
    json!({ "status": answer.status, "body": body })
}

/// Asserts every answer looks exactly like the first, which has `status` and `code`.
fn all_alike(answers: &[(&str, Answer)], status: u16, code: &str) {
    let (first, reference) = &answers[0];
    assert_eq!(
        (reference.status, reference.code()),
        (status, Some(code)),
        "{first}: {:?}",
        reference.body
    );
    assert!(
        reference.body.get("attempts_left").is_none(),
        "{first}: {:?}",
        reference.body
    );
    for (what, answer) in answers {
        assert_eq!(seen(answer), seen(reference), "{what} vs {first}");
    }
}

// ------------------------------------------------------------------ activateToken

const SELF_ISSUE_BANK: &str = "kitashin";
const PASSWORD: &str = "kita2026";

/// Issues a token by mail to a new user and returns the user and the ユーザID of the mail.
async fn issued(bank: &Bank<'_>, contract: &str) -> (String, String) {
    let user = bank.create_user(contract, None).await;
    let issued = bank
        .post(
            &format!("/users/{user}/token-issues"),
            json!({ "mail_address": "abo@docomo.ne.jp", "activation_password": PASSWORD }),
        )
        .await;
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    let mails = bank.get("/outbox?limit=200").await;
    let mail = mails.body["mails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == issued.body["mail_id"])
        .unwrap()
        .clone();
    let user_id = mail["body"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.trim().strip_prefix("ユーザID:"))
        .unwrap()
        .trim()
        .to_owned();
    (user, user_id)
}

async fn activate_from(
    app: &TestApp,
    peer: &str,
    service: &str,
    user_id: &str,
    password: &str,
) -> Answer {
    app.call_from(
        peer,
        "POST",
        "/v1/token/activations",
        &[],
        Some(json!({ "service_id": service, "user_id": user_id, "activation_password": password })),
    )
    .await
}

/// Wrong details, and an issue that was used, replaced, locked or expired, are one answer
/// without an attempt count: a stranger cannot tell a live user ID from a made-up one, nor
/// learn how many tries are left, nor that an issue is locked or expired.
async fn every_activation_failure_is_one_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(SELF_ISSUE_BANK).await;
    let activate = |user_id: String, password: &'static str| {
        let app = &app;
        async move { activate_from(app, STRANGER, SELF_ISSUE_BANK, &user_id, password).await }
    };
    let mut answers = Vec::new();

    let (_, live) = issued(&bank, "5100001").await;
    answers.push((
        "a wrong password",
        activate(live.clone(), "wrong2026").await,
    ));
    answers.push((
        "an unknown user ID",
        activate("0000000000".into(), PASSWORD).await,
    ));
    answers.push((
        "an unknown service",
        activate_from(&app, STRANGER, "no-such-bank", &live, PASSWORD).await,
    ));
    answers.push((
        "a bank that does not issue tokens",
        activate_from(&app, STRANGER, "jonan-shinkin", &live, PASSWORD).await,
    ));

    let (_, used) = issued(&bank, "5100002").await;
    assert_eq!(activate(used.clone(), PASSWORD).await.status, 201);
    answers.push(("an issue activated already", activate(used, PASSWORD).await));

    let (reissued_user, old) = issued(&bank, "5100003").await;
    let again = bank
        .post(
            &format!("/users/{reissued_user}/token-issues"),
            json!({ "mail_address": "abo@docomo.ne.jp", "activation_password": PASSWORD }),
        )
        .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    answers.push((
        "an issue replaced by a reissue",
        activate(old, PASSWORD).await,
    ));

    let (locked_user, locked) = issued(&bank, "5100004").await;
    for _ in 0..5 {
        answers.push((
            "a wrong password before the lock",
            activate(locked.clone(), "wrong2026").await,
        ));
    }
    answers.push((
        "a locked issue, right password",
        activate(locked, PASSWORD).await,
    ));
    assert_eq!(bank.status(&locked_user).await["status"], "none");

    // The live issue was not hurt by the stranger: its owner activates.
    let owner = activate_from(&app, OWNER, SELF_ISSUE_BANK, &live, PASSWORD).await;
    assert_eq!(owner.status, 201, "{:?}", owner.body);

    let (_, late) = issued(&bank, "5100005").await;
    app.advance(Duration::days(30));
    answers.push((
        "an expired issue, right password",
        activate(late, PASSWORD).await,
    ));

    all_alike(&answers, 422, "activation_failed");
}
on_both_engines!(every_activation_failure_is_one_answer);

/// Only failures count against a client: a branch where many customers activate is never
/// refused, and a client that keeps failing is refused without touching anyone else.
async fn activations_count_failures_per_client(engine: TestEngine) {
    let app = TestApp::configured(engine, |services| {
        services.keyless_limit(RateLimit::per_hour(2))
    })
    .await;
    let bank = app.bank(SELF_ISSUE_BANK).await;
    for n in 0..3 {
        let (_, user_id) = issued(&bank, &format!("52000{n:02}")).await;
        let answer = activate_from(&app, OWNER, SELF_ISSUE_BANK, &user_id, PASSWORD).await;
        assert_eq!(answer.status, 201, "activation {n}: {:?}", answer.body);
    }
    let (_, target) = issued(&bank, "5200100").await;
    for _ in 0..2 {
        let wrong = activate_from(&app, STRANGER, SELF_ISSUE_BANK, "0000000000", "wrong2026").await;
        assert_eq!(wrong.code(), Some("activation_failed"), "{:?}", wrong.body);
    }
    let limited = activate_from(&app, STRANGER, SELF_ISSUE_BANK, &target, PASSWORD).await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, Some("rate_limited")),
        "{:?}",
        limited.body
    );
    assert!(limited.header("retry-after").is_some());
    let owner = activate_from(&app, OWNER, SELF_ISSUE_BANK, &target, PASSWORD).await;
    assert_eq!(owner.status, 201, "{:?}", owner.body);
}
on_both_engines!(activations_count_failures_per_client);

// ------------------------------------------------------------------ listCredentialBanks

async fn list_banks_from(app: &TestApp, peer: &str, credential: &str, code: &str) -> Answer {
    app.call_from(
        peer,
        "POST",
        &format!("/v1/token/credentials/{credential}/banks"),
        &[],
        Some(json!({ "otp": code })),
    )
    .await
}

/// A six-digit code that is none of the token's codes around now.
fn wrong_code(app: &TestApp, token: &TestToken) -> String {
    let now = app.now_unix();
    let near: Vec<String> = (-3..=3).map(|s| token.code_after(now, s)).collect();
    (0..)
        .map(|n: u32| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// A stranger who knows a credential ID empties only their own quota: the owner, elsewhere,
/// lists as often as they like (each listing spends a code, so at most once a step).
async fn a_stranger_cannot_use_up_a_tokens_listings(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let token = app.provision().await;
    let id = &token.credential_id;
    let mut refused = 0;
    loop {
        let answer = list_banks_from(&app, STRANGER, id, &wrong_code(&app, &token)).await;
        if answer.status == 429 {
            assert_eq!(answer.code(), Some("rate_limited"));
            break;
        }
        assert_eq!(answer.code(), Some("otp_invalid"), "{:?}", answer.body);
        refused += 1;
        assert!(refused <= 20, "the stranger is never limited");
    }
    assert_eq!(refused, 20);
    for n in 0..25 {
        app.next_step();
        let own = list_banks_from(&app, OWNER, id, &token.code_at(app.now_unix())).await;
        assert_eq!(own.status, 200, "listing {n}: {:?}", own.body);
    }
}
on_both_engines!(a_stranger_cannot_use_up_a_tokens_listings);

/// An unknown credential (an unissued Mamori ID, a serial never imported), a wrong code, a
/// code of another length than the token's, and a suspended token with a wrong code are one
/// answer. Only the right code learns that the token is suspended.
async fn every_listing_failure_is_one_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let token = app.provision().await;
    let suspended = app.provision().await;
    credentials::Entity::update_many()
        .col_expr(
            credentials::Column::SuspendedAt,
            Expr::value(chrono::DateTime::<chrono::Utc>::from_timestamp(
                app.now_unix(),
                0,
            )),
        )
        .filter(credentials::Column::Id.eq(suspended.credential_id.clone()))
        .exec(app.db.connection())
        .await
        .unwrap();
    let unissued = (0..10)
        .map(|d| format!("MAMO{:07}{d}", 1))
        .find(|id| mamori_otp::CredentialId::parse(id).is_ok())
        .unwrap();
    let wrong = wrong_code(&app, &token);
    let answers = vec![
        (
            "a wrong code",
            list_banks_from(&app, STRANGER, &token.credential_id, &wrong).await,
        ),
        (
            "an unissued Mamori ID",
            list_banks_from(&app, STRANGER, &unissued, &wrong).await,
        ),
        (
            "a serial never imported",
            list_banks_from(&app, STRANGER, "VSMT00003896", &wrong).await,
        ),
        (
            "a seven-digit code for a six-digit token",
            list_banks_from(&app, STRANGER, &token.credential_id, "1234567").await,
        ),
        (
            "a seven-digit code for no token",
            list_banks_from(&app, STRANGER, &unissued, "1234567").await,
        ),
        (
            "a suspended token, wrong code",
            list_banks_from(&app, STRANGER, &suspended.credential_id, &wrong).await,
        ),
    ];
    all_alike(&answers, 422, "otp_invalid");
    let owner = list_banks_from(
        &app,
        OWNER,
        &suspended.credential_id,
        &suspended.code_at(app.now_unix()),
    )
    .await;
    assert_eq!(
        (owner.status, owner.code()),
        (423, Some("credential_suspended")),
        "{:?}",
        owner.body
    );
    // Shapes anyone can check are still named: nothing about a token is in them.
    let not_a_name = list_banks_from(&app, OWNER, "AB", &wrong).await;
    assert_eq!(not_a_name.code(), Some("credential_id_malformed"));
    let not_a_code = list_banks_from(&app, OWNER, &token.credential_id, "12345").await;
    assert_eq!(not_a_code.code(), Some("otp_malformed"));
}
on_both_engines!(every_listing_failure_is_one_answer);

// ------------------------------------------------------------------ push approvals

async fn list_approvals_from(
    app: &TestApp,
    peer: &str,
    credential: &str,
    headers: &[(&str, String)],
) -> Answer {
    app.call_from(
        peer,
        "GET",
        &format!("/v1/token/credentials/{credential}/approvals"),
        headers,
        None,
    )
    .await
}

/// Signed by `device` over `credential`'s listing message, now.
fn signed_for(app: &TestApp, device: &TestDevice, credential: &str) -> Vec<(&'static str, String)> {
    let now = app.now_unix();
    vec![
        ("mamori-device-time", now.to_string()),
        (
            "mamori-device-signature",
            device.keys.sign(&listing_message(credential, now)),
        ),
    ]
}

/// An unknown credential, one without a device key, and a wrong signature are one answer; a
/// client's failures are limited, its signed listings are not.
async fn every_approval_listing_failure_is_one_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let device = app.provision_device().await;
    let other = app.provision_device().await;
    let plain = app.provision().await;
    let unissued = (0..10)
        .map(|d| format!("MAMO{:07}{d}", 2))
        .find(|id| mamori_otp::CredentialId::parse(id).is_ok())
        .unwrap();
    let id = device.credential_id().to_owned();
    let answers = vec![
        (
            "another device's signature",
            list_approvals_from(&app, STRANGER, &id, &signed_for(&app, &other, &id)).await,
        ),
        (
            "a token without a device key",
            list_approvals_from(
                &app,
                STRANGER,
                &plain.credential_id,
                &signed_for(&app, &other, &plain.credential_id),
            )
            .await,
        ),
        (
            "no token with this ID",
            list_approvals_from(
                &app,
                STRANGER,
                &unissued,
                &signed_for(&app, &other, &unissued),
            )
            .await,
        ),
        (
            "no signature",
            list_approvals_from(&app, STRANGER, &id, &[]).await,
        ),
    ];
    all_alike(&answers, 403, "device_signature_invalid");

    for _ in answers.len()..20 {
        let refused = list_approvals_from(&app, STRANGER, &id, &[]).await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
    }
    let limited = list_approvals_from(&app, STRANGER, &id, &[]).await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, Some("rate_limited")),
        "{:?}",
        limited.body
    );
    assert!(limited.header("retry-after").is_some());
    for n in 0..25 {
        let own = list_approvals_from(&app, OWNER, &id, &signed_for(&app, &device, &id)).await;
        assert_eq!(own.status, 200, "listing {n}: {:?}", own.body);
    }
}
on_both_engines!(every_approval_listing_failure_is_one_answer);

/// An unknown approval, another credential's, and a wrong signature are one answer, limited
/// per client; the device's own answer still works afterwards.
async fn every_push_answer_failure_is_one_answer(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("kitakyushu-bank").await;
    let user = bank.create_user("5300001", Some("user01")).await;
    let device = app.provision_device().await;
    app.next_step();
    let registered = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": device.credential_id(), "otp": device.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let created = bank
        .post(
            &format!("/users/{user}/push-approvals"),
            json!({
                "transaction": {
                    "kind": "transfer",
                    "amount": "1000",
                    "payee": {
                        "bank_code": "0191",
                        "branch_code": "101",
                        "account_number": "7654321",
                        "account_name": "ｷﾀｷﾕｳ ﾊﾅｺ"
                    }
                },
                "display": { "ja": "振込 1,000円", "en": "Transfer JPY 1,000" }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let approval_id = created.body["approval_id"].as_str().unwrap().to_owned();
    let listed = list_approvals_from(
        &app,
        OWNER,
        device.credential_id(),
        &signed_for(&app, &device, device.credential_id()),
    )
    .await;
    let shown = listed.body["approvals"][0].clone();
    let real = DeviceAnswer {
        approval_id: &approval_id,
        bank_id: shown["bank_id"].as_str().unwrap(),
        transaction_hash: shown["transaction_hash"].as_str().unwrap(),
        decision: PushDecision::Approve,
        number: None,
        signed_at: app.now_unix(),
    };
    let attacker = app.provision_device().await;
    let answer_from = |peer: &'static str, approval: String, body: Value| {
        let app = &app;
        async move {
            app.call_from(
                peer,
                "POST",
                &format!("/v1/token/approvals/{approval}/answer"),
                &[],
                Some(body),
            )
            .await
        }
    };
    let answers = vec![
        (
            "a wrong signature",
            answer_from(
                STRANGER,
                approval_id.clone(),
                device.answer_body_signed(&real, &attacker.sign_answer(&real)),
            )
            .await,
        ),
        (
            "another credential's answer",
            answer_from(STRANGER, approval_id.clone(), attacker.answer_body(&real)).await,
        ),
        (
            "an unknown approval",
            answer_from(
                STRANGER,
                "pa_00000000000000000000000000000000".into(),
                device.answer_body(&real),
            )
            .await,
        ),
    ];
    all_alike(&answers, 403, "device_signature_invalid");
    for _ in answers.len()..20 {
        let refused = answer_from(STRANGER, approval_id.clone(), attacker.answer_body(&real)).await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
    }
    let limited = answer_from(STRANGER, approval_id.clone(), device.answer_body(&real)).await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, Some("rate_limited")),
        "{:?}",
        limited.body
    );
    let approved = answer_from(OWNER, approval_id.clone(), device.answer_body(&real)).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["status"], "approved");
}
on_both_engines!(every_push_answer_failure_is_one_answer);
