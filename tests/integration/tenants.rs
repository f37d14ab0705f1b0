//! Tenant configs: the shipped files load, `serve` applies them idempotently and never drops a
//! bank that has users.

use std::path::PathBuf;

use mamori_domain::tenant_config::load_dir;
use mamori_store::TenantChange;
use mamori_store::entities::users;
use mamori_testkit::{TestApp, TestDb, TestEngine, on_both_engines};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

fn shipped_configs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tenant-configs"))
}

async fn bare_app(engine: TestEngine) -> TestApp {
    let (test_db, db) = TestDb::migrated(engine).await;
    TestApp::over(test_db, db)
}

async fn shipped_configs_are_applied_once_and_then_unchanged(engine: TestEngine) {
    let app = bare_app(engine).await;
    let configs = load_dir(&shipped_configs_dir()).expect("shipped tenant configs are valid");
    assert_eq!(
        configs.len(),
        6,
        "one tenant per seed bank, and the demo bank"
    );

    let first = app
        .state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();
    assert!(
        first.iter().all(|a| a.change == TenantChange::Inserted),
        "{first:?}"
    );
    let again = app
        .state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();
    assert!(
        again.iter().all(|a| a.change == TenantChange::Unchanged),
        "{again:?}"
    );

    let tenants = app.state.services.tenants.list_tenants().await.unwrap();
    let ids: Vec<_> = tenants.iter().map(|t| t.id.as_str().to_owned()).collect();
    for id in [
        "demo-shinkin",
        "johoku-shinkin",
        "jonan-shinkin",
        "kitakyushu-bank",
        "kitashin",
        "shinkin-001",
    ] {
        assert!(ids.contains(&id.to_owned()), "{id} missing from {ids:?}");
    }
    let johoku = tenants
        .iter()
        .find(|t| t.id.as_str() == "johoku-shinkin")
        .unwrap();
    assert_eq!(
        johoku.config,
        configs
            .iter()
            .find(|c| c.id == "johoku-shinkin")
            .unwrap()
            .clone()
    );
}
on_both_engines!(shipped_configs_are_applied_once_and_then_unchanged);

async fn a_changed_config_updates_and_a_bank_with_users_is_never_dropped(engine: TestEngine) {
    let app = bare_app(engine).await;
    let mut configs = load_dir(&shipped_configs_dir()).unwrap();
    app.state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();

    users::ActiveModel {
        id: Set("u-1".into()),
        tenant_id: Set("jonan-shinkin".into()),
        contract_number: Set("1234567".into()),
        user_code: Set(String::new()),
        display_name: Set("城南 太郎".into()),
        created_at: Set(app.clock_now()),
        updated_at: Set(app.clock_now()),
        ..Default::default()
    }
    .insert(app.db.connection())
    .await
    .unwrap();

    // The operator edits one bank's name and removes jonan-shinkin's file.
    let kitashin = configs.iter_mut().find(|c| c.id == "kitashin").unwrap();
    kitashin.name_en = "Kitashin (renamed)".into();
    configs.retain(|c| c.id != "jonan-shinkin");
    let applied = app
        .state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();
    let change_of = |id: &str| applied.iter().find(|a| a.id == id).unwrap().change;
    assert_eq!(change_of("kitashin"), TenantChange::Updated);
    assert_eq!(change_of("johoku-shinkin"), TenantChange::Unchanged);

    let tenants = app.state.services.tenants.list_tenants().await.unwrap();
    assert!(
        tenants.iter().any(|t| t.id.as_str() == "jonan-shinkin"),
        "a bank with users is kept"
    );
    let jonan = app
        .db
        .find_tenant(&mamori_domain::TenantId::parse("jonan-shinkin").unwrap())
        .await
        .unwrap();
    assert_eq!(jonan.and_then(|t| t.user_count), Some(1), "with its user");
    let kitashin = tenants
        .iter()
        .find(|t| t.id.as_str() == "kitashin")
        .unwrap();
    assert_eq!(kitashin.config.name_en, "Kitashin (renamed)");
}
on_both_engines!(a_changed_config_updates_and_a_bank_with_users_is_never_dropped);

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use mamori_domain::Clock;
        self.clock.now()
    }
}
