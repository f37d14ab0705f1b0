//! The account rows that grant access, attacked as a database writer without the master key
//! would: a binding pointed at the writer's own credential, a device key replaced with the
//! writer's own, and an API key row whose hash the writer knows are each treated as absent —
//! the same answer as a missing row. Rows written before they carried a MAC are trusted again
//! only once an operator gives them their MACs (`mamori keys mac-accounts`).

use mamori_crypto::{ApiKey, DeviceKeyPair};
use mamori_domain::push::PushDecision;
use mamori_testkit::{Bank, DeviceAnswer, TestApp, TestDevice, TestEngine, on_both_engines};
use serde_json::{Value, json};

use crate::audit::execute;

const BANK: &str = "kitakyushu-bank";

/// A user of `bank` with a token registered (one code), returning the user and the token.
async fn registered(app: &TestApp, bank: &Bank<'_>, contract: &str) -> (String, TestDevice) {
    let user = bank.create_user(contract, None).await;
    let device = app.provision_device().await;
    app.next_step();
    let registered = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": device.credential_id(), "otp": device.token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    (user, device)
}

/// The binding row of `user` as the database holds it: credential, state and failures.
async fn binding_row(app: &TestApp, user: &str) -> (String, String, i64) {
    use sea_orm::ConnectionTrait;
    let conn = app.db.connection();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT credential_id, state, failures FROM bindings WHERE user_id = '{user}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get("", "credential_id").unwrap(),
        row.try_get("", "state").unwrap(),
        i64::from(row.try_get::<i32>("", "failures").unwrap()),
    )
}

async fn verify(bank: &Bank<'_>, user: &str, otp: &str) -> mamori_testkit::Answer {
    bank.post(&format!("/users/{user}/otp/verify"), json!({ "otp": otp }))
        .await
}

/// A writer points the victim's binding at the writer's own token: the writer's fresh, correct
/// code for the victim is refused exactly as for a user with no token, and the victim's
/// binding counts no failure.
async fn a_binding_pointed_at_another_credential_is_absent(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let (victim, _) = registered(&app, &bank, "5300001").await;
    let unregistered = bank.create_user("5300002", None).await;
    let attacker = app.provision().await;
    execute(
        &app,
        &format!(
            "UPDATE bindings SET credential_id = '{}' WHERE user_id = '{victim}'",
            attacker.credential_id
        ),
    )
    .await;

    app.next_step();
    let code = attacker.code_at(app.now_unix());
    let forged = verify(&bank, &victim, &code).await;
    let none = verify(&bank, &unregistered, &code).await;
    assert_eq!(
        (forged.status, forged.code()),
        (none.status, none.code()),
        "{:?}",
        forged.body
    );
    assert_eq!(
        forged.code(),
        Some("otp_not_registered"),
        "{:?}",
        forged.body
    );
    let (_, state, failures) = binding_row(&app, &victim).await;
    assert_eq!((state.as_str(), failures), ("active", 0));
    // Nor does the victim's status show the writer's token.
    let status = bank.status(&victim).await;
    assert_ne!(
        status["credential_id"],
        json!(attacker.credential_id),
        "{status}"
    );
}
on_both_engines!(a_binding_pointed_at_another_credential_is_absent);

/// A writer replaces the victim's device key with their own: an answer the writer signs is
/// refused like any wrong signature, and the approval stays pending.
async fn a_replaced_device_key_approves_nothing(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let (user, device) = registered(&app, &bank, "5300011").await;
    let created = bank
        .post(
            &format!("/users/{user}/push-approvals"),
            json!({
                "transaction": {
                    "kind": "transfer",
                    "amount": "900000",
                    "payee": {
                        "bank_code": "0191",
                        "branch_code": "101",
                        "account_number": "7654321",
                        "account_name": "ｷﾀｷﾕｳ ﾊﾅｺ"
                    }
                },
                "display": { "ja": "振込 900,000円", "en": "Transfer JPY 900,000" }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let approval_id = created.body["approval_id"].as_str().unwrap().to_owned();
    let listed = app
        .call_with_headers(
            "GET",
            &format!("/v1/token/credentials/{}/approvals", device.credential_id()),
            None,
            &device.listing_headers(app.now_unix()),
            None,
        )
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let shown: Value = listed.body["approvals"][0].clone();

    let writer = DeviceKeyPair::generate().unwrap();
    execute(
        &app,
        &format!(
            "UPDATE device_keys SET public_key = '{}' WHERE credential_id = '{}'",
            writer.public().to_base64(),
            device.credential_id()
        ),
    )
    .await;
    let writers_device = TestDevice {
        token: device.token.clone(),
        keys: writer,
    };
    let answer = DeviceAnswer {
        approval_id: &approval_id,
        bank_id: shown["bank_id"].as_str().unwrap(),
        transaction_hash: shown["transaction_hash"].as_str().unwrap(),
        decision: PushDecision::Approve,
        number: None,
        signed_at: app.now_unix(),
    };
    let refused = app
        .call(
            "POST",
            &format!("/v1/token/approvals/{approval_id}/answer"),
            None,
            Some(writers_device.answer_body(&answer)),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, Some("device_signature_invalid")),
        "{:?}",
        refused.body
    );
    let view = bank.get(&format!("/push-approvals/{approval_id}")).await;
    assert_eq!(view.body["status"], "pending", "{:?}", view.body);
    // Nor can the writer's key list the victim's approvals.
    let listing = app
        .call_with_headers(
            "GET",
            &format!("/v1/token/credentials/{}/approvals", device.credential_id()),
            None,
            &writers_device.listing_headers(app.now_unix()),
            None,
        )
        .await;
    assert_eq!(listing.status, 403, "{:?}", listing.body);
}
on_both_engines!(a_replaced_device_key_approves_nothing);

/// A writer inserts an API key row whose hash they know: the key is refused like an unknown
/// one.
async fn an_inserted_api_key_is_unknown(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let user = bank.create_user("5300021", None).await;
    let forged = ApiKey::generate().unwrap();
    execute(
        &app,
        &format!(
            "INSERT INTO api_keys (id, tenant_id, prefix, key_hash, label, created_at) \
             VALUES ('key_forged', '{BANK}', '{}', '{}', 'forged', '2026-12-01 00:00:00+00:00')",
            forged.prefix(),
            forged.hash().0
        ),
    )
    .await;
    let unknown = ApiKey::generate().unwrap();
    let path = format!("/v1/banks/{BANK}/users/{user}/otp-status");
    let with_forged = app.call("GET", &path, Some(&forged.reveal()), None).await;
    let with_unknown = app.call("GET", &path, Some(&unknown.reveal()), None).await;
    assert_eq!(
        (with_forged.status, with_forged.code()),
        (401, Some("unauthorized")),
        "{:?}",
        with_forged.body
    );
    assert_eq!(
        (with_forged.status, with_forged.code()),
        (with_unknown.status, with_unknown.code())
    );
    // The bank's own key still works.
    assert_eq!(
        app.call("GET", &path, Some(&bank.key), None).await.status,
        200
    );
}
on_both_engines!(an_inserted_api_key_is_unknown);

/// Rows written before they carried a MAC are absent until an operator gives them their MACs;
/// then they work again, once, with a `macAccountRows` entry in the platform's trail. A second
/// run finds nothing to do.
async fn rows_from_before_work_once_given_their_macs(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let (user, device) = registered(&app, &bank, "5300031").await;
    for table in ["bindings", "device_keys", "api_keys"] {
        execute(&app, &format!("UPDATE {table} SET mac = NULL")).await;
    }
    let keys = &app.state.services.keys;
    let unmacked = keys.unmacked_accounts().await.unwrap();
    assert_eq!(unmacked.len(), 3, "{unmacked:?}");

    // A fresh node (no cached key) refuses the bank's key until then.
    let node = app.another_node();
    let status_path = format!("/v1/banks/{BANK}/users/{user}/otp-status");
    let before = node
        .call_with_headers("GET", &status_path, Some(&bank.key), &[], None)
        .await;
    assert_eq!(before.status, 401, "{:?}", before.body);

    let done = keys.mac_accounts(1).await.unwrap();
    let macked: Vec<(&str, u64)> = done.iter().map(|d| (d.table.name(), d.macked)).collect();
    assert_eq!(
        macked,
        [("bindings", 1), ("device_keys", 1), ("api_keys", 1)]
    );
    assert!(keys.unmacked_accounts().await.unwrap().is_empty());
    assert!(
        keys.mac_accounts(1)
            .await
            .unwrap()
            .iter()
            .all(|d| d.macked == 0)
    );
    assert_eq!(
        app.count(
            "SELECT (SELECT COUNT(*) FROM audit_pending WHERE operation = 'macAccountRows') \
             + (SELECT COUNT(*) FROM audit_events WHERE operation = 'macAccountRows') AS n"
        )
        .await,
        1
    );

    let after = node
        .call_with_headers("GET", &status_path, Some(&bank.key), &[], None)
        .await;
    assert_eq!(after.status, 200, "{:?}", after.body);
    app.next_step();
    let verified = verify(&bank, &user, &device.token.code_at(app.now_unix())).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let listed = app
        .call_with_headers(
            "GET",
            &format!("/v1/token/credentials/{}/approvals", device.credential_id()),
            None,
            &device.listing_headers(app.now_unix()),
            None,
        )
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
}
on_both_engines!(rows_from_before_work_once_given_their_macs);
