//! The master key's life in the database: a rotation (new key, old one still given), then
//! `reseal`, then the old key dropped; every sealed record still opens, and no derived value
//! (webhook secret, console anti-forgery token) changes on the way — on every node alike.

use mamori_crypto::{Keyring, MasterKey};
use mamori_domain::TenantId;
use mamori_service::{Services, Unopened};
use mamori_store::sealed::{self, SEALED_TABLES};
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde_json::json;

const BANK: &str = "jonan-shinkin";

fn node(app: &TestApp, current: &MasterKey, older: &[MasterKey]) -> Services {
    Services::builder(
        app.db.clone(),
        app.clock.clone(),
        Keyring::new(current.clone(), older.iter().cloned()),
    )
    .build()
}

/// What a node derives: the bank's webhook secret and a session's anti-forgery token.
async fn derived(services: &Services) -> (String, String) {
    let tenant = TenantId::parse(BANK).unwrap();
    (
        services.webhooks.webhook_secret(&tenant).await.unwrap(),
        services.operators.csrf_token("ses_test").await.unwrap(),
    )
}

fn counts(report: &[mamori_service::Resealed]) -> Vec<(&'static str, u64)> {
    report
        .iter()
        .map(|table| (table.table.name, table.resealed))
        .collect()
}

async fn rotation_then_reseal_lets_the_old_key_go(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let provisioned = app
        .call("POST", "/v1/token/credentials", None, Some(json!({})))
        .await;
    assert_eq!(provisioned.status, 201, "{:?}", provisioned.body);
    let services = &app.state.services;
    services.receipts.jwks().await.unwrap();
    let before = derived(services).await;

    let old = app.master_key().clone();
    let new = MasterKey::generate().unwrap();
    let rotating = node(&app, &new, std::slice::from_ref(&old));
    assert_eq!(rotating.keys.unopenable().await.unwrap(), vec![]);
    assert_eq!(
        derived(&rotating).await,
        before,
        "a rotation changes nothing derived"
    );

    let stale = sealed::sealed_not_with(&app.db, SEALED_TABLES[0], &new.id(), None, 10)
        .await
        .unwrap();
    assert_eq!(stale.len(), 1);
    let report = rotating.keys.reseal(1).await.unwrap();
    assert_eq!(
        counts(&report),
        vec![
            ("credentials", 1),
            ("operators", 0),
            ("signing_keys", 1),
            ("key_roots", 1)
        ]
    );
    assert_eq!(
        counts(&rotating.keys.reseal(100).await.unwrap()),
        vec![
            ("credentials", 0),
            ("operators", 0),
            ("signing_keys", 0),
            ("key_roots", 0)
        ],
        "a second run finds nothing"
    );
    // A write from a record read before the reseal is refused: the record changed meanwhile.
    assert!(
        !sealed::replace_seal(
            &app.db,
            SEALED_TABLES[0],
            &stale[0],
            stale[0].blob.clone(),
            &old.id()
        )
        .await
        .unwrap()
    );

    let after = node(&app, &new, &[]);
    assert_eq!(after.keys.unopenable().await.unwrap(), vec![]);
    assert!(after.receipts.check_signing_key().await.unwrap().is_some());
    assert_eq!(derived(&after).await, before);

    let left_behind = node(&app, &old, &[]);
    let unopenable = left_behind.keys.unopenable().await.unwrap();
    assert_eq!(unopenable.len(), 3, "{unopenable:?}");
    assert!(
        unopenable
            .iter()
            .all(|u| u.why == Unopened::KeyNotGiven && u.sealed.key_id == new.id())
    );
    assert!(left_behind.receipts.check_signing_key().await.is_err());
}
on_both_engines!(rotation_then_reseal_lets_the_old_key_go);
