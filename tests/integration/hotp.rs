//! Event-based (HOTP, RFC 4226) tokens: an imported hardware-style token at a bank whose policy
//! allows them — counter look-ahead, single use, 同期ズレ補正 of a counter that ran far ahead —
//! and refused where the policy allows only TOTP. Codes come from a small RFC 4226
//! implementation here, not from Mamori's engine.

use hmac::{Hmac, Mac};
use mamori_domain::policy::CredentialKind;
use mamori_domain::tenant_config::load_dir;
use mamori_otp::{OtpParams, Secret};
use mamori_service::{ImportedToken, RequestMeta};
use mamori_testkit::{Bank, TestApp, TestEngine, on_both_engines, shipped_tenant_configs};
use serde_json::json;
use sha1::Sha1;

/// RFC 4226 test secret (Appendix D).
const SECRET: &[u8] = b"12345678901234567890";

/// HOTP(secret, counter), six digits: HMAC-SHA1, dynamic truncation, mod 10^6.
fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

fn code(counter: u64) -> String {
    hotp(SECRET, counter)
}

async fn verify(bank: &Bank<'_>, user: &str, counter: u64) -> mamori_testkit::Answer {
    bank.post(
        &format!("/users/{user}/otp/verify"),
        json!({ "otp": code(counter) }),
    )
    .await
}

/// The generator agrees with RFC 4226 Appendix D, so it can judge the engine.
#[test]
fn hotp_generator_matches_rfc_4226_vectors() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, want) in expected.iter().enumerate() {
        assert_eq!(hotp(SECRET, counter as u64), *want, "counter {counter}");
    }
}

/// An app with jonan-shinkin allowing HOTP (`credential_kinds = ["totp", "hotp"]`, the rest as
/// shipped) and an imported HOTP token at counter 0; returns its credential ID.
async fn app_with_hotp_token(engine: TestEngine) -> (TestApp, String) {
    let app = app_allowing_hotp(engine).await;
    let credential_id = import_hotp(&app, 0).await.unwrap();
    (app, credential_id)
}

/// An app with jonan-shinkin allowing HOTP, as [`app_with_hotp_token`], without a token.
async fn app_allowing_hotp(engine: TestEngine) -> TestApp {
    let app = TestApp::new(engine).await;
    let mut configs = load_dir(&shipped_tenant_configs()).unwrap();
    let jonan = configs
        .iter_mut()
        .find(|c| c.id == "jonan-shinkin")
        .unwrap();
    jonan.policy.otp.credential_kinds = vec![CredentialKind::Totp, CredentialKind::Hotp];
    assert_eq!(
        jonan.policy.otp.hotp_look_ahead.get(),
        10,
        "the scenarios' counters assume the shipped look-ahead"
    );
    app.state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();
    app
}

/// Imports an HOTP token with the RFC 4226 secret at `counter`.
async fn import_hotp(app: &TestApp, counter: u64) -> Result<String, mamori_service::ServiceError> {
    let secret = Secret::from_bytes(SECRET).unwrap();
    app.state
        .services
        .provisioning
        .import_credential(
            "test",
            &RequestMeta::default(),
            &ImportedToken {
                id: None,
                kind: CredentialKind::Hotp,
                counter,
                secret,
                params: OtpParams::default(),
            },
        )
        .await
        .map(|id| id.to_string())
}

/// A jonan user with the HOTP token registered with code(0).
async fn registered_user(bank: &Bank<'_>, credential_id: &str, contract: &str) -> String {
    let user = bank.create_user(contract, None).await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": credential_id, "otp": code(0) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    assert_eq!(reg.body["status"], "in_use", "{:?}", reg.body);
    user
}

/// jonan-shinkin allowing HOTP: an imported HOTP token registers with code(0); code(1) logs in
/// and is then spent (`otp_already_used`, not counted); code(5) is accepted within the
/// look-ahead of 10 and the skipped codes are spent; code(50) is beyond it (`otp_invalid`).
/// shinkin-001, which allows only TOTP, refuses the token with `credential_kind_not_allowed`.
async fn hotp_event_token(engine: TestEngine) {
    let (app, credential_id) = app_with_hotp_token(engine).await;

    // A TOTP-only bank refuses the token, whatever the code.
    let totp_only = app.bank("shinkin-001").await;
    let someone = totp_only.create_user("9500001", None).await;
    let refused = totp_only
        .post(
            &format!("/users/{someone}/credential"),
            json!({ "credential_id": credential_id, "otp": code(0) }),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (422, Some("credential_kind_not_allowed")),
        "{:?}",
        refused.body
    );
    assert_eq!(totp_only.status(&someone).await["status"], "none");

    // Registration with the first code (the refusal above spent nothing).
    let jonan = app.bank("jonan-shinkin").await;
    let user = registered_user(&jonan, &credential_id, "9500002").await;

    // The next press logs in; sending it again is "already used", and not counted.
    let login = verify(&jonan, &user, 1).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["credential_id"], credential_id.as_str());
    let again = verify(&jonan, &user, 1).await;
    assert_eq!(
        (again.status, again.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        again.body
    );
    assert_eq!(jonan.status(&user).await["failures"], 0, "not counted");

    // Buttons pressed without logging in (2, 3, 4): code(5) is within the look-ahead.
    let skipped = verify(&jonan, &user, 5).await;
    assert_eq!(skipped.status, 200, "{:?}", skipped.body);
    // The skipped codes are spent with it.
    let older = verify(&jonan, &user, 3).await;
    assert_ne!(older.status, 200, "{:?}", older.body);

    // Far ahead: beyond the look-ahead, a wrong code, counted.
    let before = jonan.status(&user).await["failures"].as_u64().unwrap();
    let far = verify(&jonan, &user, 50).await;
    assert_eq!(
        (far.status, far.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        far.body
    );
    assert_eq!(
        jonan.status(&user).await["failures"].as_u64(),
        Some(before + 1)
    );

    // The next code in sequence still logs in.
    let login = verify(&jonan, &user, 6).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}
on_both_engines!(hotp_event_token);

/// Seed 000 「端末側とセンターシステム側のOTPの生成回数不一致」 corrected by 同期ズレ補正: an HOTP
/// token pressed many times without logging in (counter 30, beyond the look-ahead of 10) is
/// re-found from two consecutive codes (30, 31); code(32) then logs in and code(32) again is
/// already used.
async fn hotp_resync_far_ahead(engine: TestEngine) {
    let (app, credential_id) = app_with_hotp_token(engine).await;
    let jonan = app.bank("jonan-shinkin").await;
    let user = registered_user(&jonan, &credential_id, "9500003").await;
    let login = verify(&jonan, &user, 1).await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    // Beyond the look-ahead a single code fails...
    let far = verify(&jonan, &user, 30).await;
    assert_eq!(far.code(), Some("otp_invalid"), "{:?}", far.body);

    // ...two consecutive codes resynchronise the counter.
    let resync = jonan
        .post(
            &format!("/users/{user}/credential/resync"),
            json!({ "otp1": code(30), "otp2": code(31) }),
        )
        .await;
    assert_eq!(resync.status, 200, "{:?}", resync.body);
    assert_eq!(jonan.status(&user).await["failures"], 0);

    let login = verify(&jonan, &user, 32).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let replay = verify(&jonan, &user, 32).await;
    assert_eq!(
        (replay.status, replay.code()),
        (409, Some("otp_already_used")),
        "{:?}",
        replay.body
    );
}
on_both_engines!(hotp_resync_far_ahead);

/// A counter at the edge of what the store holds (an i64) is refused cleanly: a token imported
/// beyond it is refused rather than silently clamped, and at the last storable counter — whose
/// successor cannot be stored — registration is `otp_invalid` and 同期ズレ補正 `resync_failed`,
/// never a panic, a 500 or a wrapped counter that would make spent codes valid again. One
/// counter below, the token registers; the counters past it stay out of reach, by a code or
/// by a resync.
async fn hotp_counter_at_the_edge_is_refused_cleanly(engine: TestEngine) {
    let app = app_allowing_hotp(engine).await;
    let beyond = import_hotp(&app, u64::MAX).await;
    assert!(
        matches!(beyond, Err(mamori_service::ServiceError::Invalid(ref m)) if m.contains("counter")),
        "{beyond:?}"
    );

    let last = i64::MAX as u64;
    let credential_id = import_hotp(&app, last).await.unwrap();
    let jonan = app.bank("jonan-shinkin").await;
    let user = jonan.create_user("9500009", None).await;
    let reg = jonan
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": credential_id, "otp": code(last) }),
        )
        .await;
    assert_eq!(
        (reg.status, reg.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        reg.body
    );

    // One counter below the edge: registers, and then the last counter is out of reach.
    let credential_id = import_hotp(&app, last - 1).await.unwrap();
    let user = jonan.create_user("9500010", None).await;
    let reg = jonan
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": credential_id, "otp": code(last - 1) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    let at_max = verify(&jonan, &user, last).await;
    assert_eq!(
        (at_max.status, at_max.code()),
        (422, Some("otp_invalid")),
        "{:?}",
        at_max.body
    );
    let resync = jonan
        .post(
            &format!("/users/{user}/credential/resync"),
            json!({ "otp1": code(last), "otp2": code(last + 1) }),
        )
        .await;
    assert_eq!(resync.code(), Some("resync_failed"), "{:?}", resync.body);
}
on_both_engines!(hotp_counter_at_the_edge_is_refused_cleanly);
