//! Signed results banks can verify offline: login and transaction receipts checked against the
//! published JWKS with an independent JWT library (jwt-simple), the transaction hash recomputed
//! independently, and a key rotation that keeps old receipts verifiable.

use std::collections::HashSet;

use jwt_simple::prelude::{Ed25519PublicKey, EdDSAPublicKeyLike, VerificationOptions};
use mamori_domain::{Clock, SystemClock};
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize)]
pub(crate) struct Extra {
    pub(crate) amr: Vec<String>,
    pub(crate) auth_time: i64,
    #[serde(default)]
    pub(crate) txn_hash: Option<String>,
    #[serde(default)]
    pub(crate) txn_kind: Option<String>,
}

/// Verifies `token` against the JWKS the server publishes, as a bank would.
pub(crate) async fn verify(
    app: &TestApp,
    token: &str,
    audience: &str,
) -> jwt_simple::prelude::JWTClaims<Extra> {
    let jwks = app.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, 200, "{:?}", jwks.body);
    let header: Value = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(token.split('.').next().unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let kid = header["kid"].as_str().unwrap();
    let jwk = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid published");
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    let x = data_encoding::BASE64URL_NOPAD
        .decode(jwk["x"].as_str().unwrap().as_bytes())
        .unwrap();
    let key = Ed25519PublicKey::from_bytes(&x).unwrap();
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from(["mamori".to_owned()])),
        allowed_audiences: Some(HashSet::from([audience.to_owned()])),
        ..VerificationOptions::default()
    };
    key.verify_token::<Extra>(token, Some(options))
        .expect("a valid receipt")
}

/// The canonical transaction, built here independently of Mamori's code.
fn independent_hash(amount: &str) -> String {
    let canonical = format!(
        r#"{{"amount":"{amount}","currency":"JPY","kind":"transfer","payee":{{"account_name":"ｼﾞｮｳﾅﾝ ﾀﾛｳ","account_number":"1234567","bank_code":"1344","branch_code":"001"}}}}"#
    );
    data_encoding::HEXLOWER.encode(&Sha256::digest(canonical.as_bytes()))
}

async fn receipts_verify_offline_and_survive_rotation(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    // jwt-simple checks `exp` against the real clock, so the test runs at the real time.
    app.clock.set(SystemClock.now());
    let bank = app.bank("jonan-shinkin").await;
    let created = bank
        .post(
            "/users",
            json!({ "contract_number": "8000001", "initial_password": "temp1234" }),
        )
        .await;
    let user = created.body["id"].as_str().unwrap().to_owned();
    let token = app.provision().await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    // Seed 004's bank asks for no OTP at login: the password completes it, with a receipt.
    let start = bank
        .post(
            "/logins",
            json!({ "contract_number": "8000001", "password": "temp1234" }),
        )
        .await;
    let login_id = start.body["login_id"].as_str().unwrap().to_owned();
    let changed = bank
        .post(
            &format!("/users/{user}/password"),
            json!({ "new_password": "Autumn2026", "login_id": login_id }),
        )
        .await;
    assert_eq!(changed.body["next_step"], "complete", "{:?}", changed.body);
    let claims = verify(
        &app,
        changed.body["receipt"].as_str().unwrap(),
        "jonan-shinkin",
    )
    .await;
    assert_eq!(claims.subject.as_deref(), Some(user.as_str()));
    assert_eq!(claims.custom.amr, ["pwd"]);
    assert!(claims.jwt_id.is_some());
    let lifetime = claims.expires_at.unwrap().as_secs() - claims.issued_at.unwrap().as_secs();
    assert_eq!(lifetime, 300, "5-minute receipts");

    // A transfer authorised with a fresh code.
    app.next_step();
    let transfer = |amount: &str| {
        json!({
            "otp": token.code_at(app.now_unix()),
            "transaction": {
                "kind": "transfer",
                "amount": amount,
                "payee": { "bank_code": "1344", "branch_code": "001", "account_number": "1234567", "account_name": "ｼﾞｮｳﾅﾝ ﾀﾛｳ" }
            }
        })
    };
    let approved = bank
        .post(
            &format!("/users/{user}/transactions/verify"),
            transfer("150000"),
        )
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let receipt = approved.body["receipt"].as_str().unwrap().to_owned();
    let claims = verify(&app, &receipt, "jonan-shinkin").await;
    assert_eq!(claims.custom.amr, ["otp"]);
    assert_eq!(claims.custom.txn_kind.as_deref(), Some("transfer"));
    assert!(claims.custom.auth_time > 0);
    let hash = claims.custom.txn_hash.unwrap();
    assert_eq!(
        hash,
        independent_hash("150000"),
        "the bank recomputes the hash of what it sent"
    );
    assert_ne!(
        hash,
        independent_hash("1500000"),
        "a changed amount breaks the hash"
    );

    // Another bank cannot use the receipt: the audience is the bank.
    let jwks = app.call("GET", "/.well-known/jwks.json", None, None).await;
    let x = data_encoding::BASE64URL_NOPAD
        .decode(jwks.body["keys"][0]["x"].as_str().unwrap().as_bytes())
        .unwrap();
    let options = VerificationOptions {
        allowed_audiences: Some(HashSet::from(["johoku-shinkin".to_owned()])),
        ..VerificationOptions::default()
    };
    assert!(
        Ed25519PublicKey::from_bytes(&x)
            .unwrap()
            .verify_token::<Extra>(&receipt, Some(options))
            .is_err()
    );

    // Rotation: new receipts use the new key; the old receipt still verifies.
    let old_kid = jwks.body["keys"][0]["kid"].as_str().unwrap().to_owned();
    let new_kid = app
        .state
        .services
        .receipts
        .rotate_signing_key()
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);
    let keys = app
        .call("GET", "/.well-known/jwks.json", None, None)
        .await
        .body["keys"]
        .clone();
    let kids: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    verify(&app, &receipt, "jonan-shinkin").await;
    app.next_step();
    let again = bank
        .post(
            &format!("/users/{user}/transactions/verify"),
            transfer("2000"),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    let header: Value = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(
                again.body["receipt"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid.as_str());
}
on_both_engines!(receipts_verify_offline_and_survive_rotation);

/// A transaction code is a code like any other: spent, counted, and refused when reused.
async fn transaction_codes_are_spent_and_counted(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("8000002", None).await;
    let token = app.provision().await;
    bank.post(
        &format!("/users/{user}/credential"),
        json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
    )
    .await;
    app.next_step();
    let body = |otp: String, amount: &str| json!({ "otp": otp, "transaction": { "kind": "payeasy", "amount": amount } });
    let ok = bank
        .post(
            &format!("/users/{user}/transactions/verify"),
            body(token.code_at(app.now_unix()), "5000"),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let reused = bank
        .post(
            &format!("/users/{user}/transactions/verify"),
            body(token.code_at(app.now_unix()), "5000"),
        )
        .await;
    assert_eq!(reused.code(), Some("otp_already_used"), "{:?}", reused.body);
    let wrong = bank
        .post(
            &format!("/users/{user}/transactions/verify"),
            body("000000".into(), "5000"),
        )
        .await;
    assert_eq!(wrong.code(), Some("otp_invalid"), "{:?}", wrong.body);
    let bad_amount = bank
        .post(
            &format!("/users/{user}/transactions/verify"),
            body(token.code_at(app.now_unix()), "1e5"),
        )
        .await;
    assert_eq!(
        (bad_amount.status, bad_amount.code()),
        (400, Some("validation_failed")),
        "{:?}",
        bad_amount.body
    );
    assert_eq!(
        bank.status(&user).await["failures"],
        1,
        "only the wrong code counted"
    );
}
on_both_engines!(transaction_codes_are_spent_and_counted);

/// A database writer without the master key cannot get banks to trust a key of theirs: a row
/// they add (with a public key of their own and a made-up sealed seed) is not published, and a
/// stored public key they swap is replaced by the one the sealed seed derives.
async fn jwks_publishes_only_keys_derived_from_sealed_seeds(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let before = app.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(before.status, 200, "{:?}", before.body);
    let genuine = before.body["keys"][0].clone();
    let kid = genuine["kid"].as_str().unwrap().to_owned();
    let theirs = data_encoding::BASE64URL_NOPAD.encode(&[9u8; 32]);
    let sealed_with = app.master_key().id();
    let conn = app.db.connection();
    sea_orm::ConnectionTrait::execute_unprepared(
        conn,
        &format!("UPDATE signing_keys SET public_x = '{theirs}' WHERE kid = '{kid}'"),
    )
    .await
    .unwrap();
    sea_orm::ActiveModelTrait::insert(
        mamori_store::entities::signing_keys::ActiveModel {
            kid: sea_orm::ActiveValue::Set("ed-forged".into()),
            algorithm: sea_orm::ActiveValue::Set("EdDSA".into()),
            public_x: sea_orm::ActiveValue::Set(theirs.clone()),
            sealed_seed: sea_orm::ActiveValue::Set(vec![7; 60]),
            sealed_with: sea_orm::ActiveValue::Set(sealed_with),
            created_at: sea_orm::ActiveValue::Set(mamori_domain::Clock::now(&*app.clock)),
            retired_at: sea_orm::ActiveValue::Set(None),
        },
        conn,
    )
    .await
    .unwrap();
    let after = app.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    let keys = after.body["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .all(|k| k["x"] != theirs.as_str() && k["kid"] != "ed-forged"),
        "{keys:?}"
    );
    assert_eq!(
        keys,
        &[genuine],
        "the genuine key, as the sealed seed derives it"
    );
}
on_both_engines!(jwks_publishes_only_keys_derived_from_sealed_seeds);
