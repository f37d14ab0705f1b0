//! Every migration runs up, down and up again on both engines.

use mamori_migrations::{Migrator, MigratorTrait};
use mamori_testkit::{TestDb, TestEngine, on_both_engines};
use sea_orm::{ConnectionTrait, Statement};

async fn migrations_go_up_down_and_up_again(engine: TestEngine) {
    let test_db = TestDb::create(engine).await;
    let db = mamori_store::Database::connect(&test_db.url).await.unwrap();
    let conn = db.connection();

    assert_eq!(
        db.pending_migrations().await.unwrap(),
        Migrator::migrations().len()
    );
    db.migrate().await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    assert!(table_exists(conn, "bindings").await);

    Migrator::down(conn, None)
        .await
        .expect("every migration has a working down");
    assert!(!table_exists(conn, "bindings").await);
    assert!(!table_exists(conn, "tenants").await);

    db.migrate().await.unwrap();
    assert!(table_exists(conn, "audit_events").await);
}
on_both_engines!(migrations_go_up_down_and_up_again);

async fn table_exists(conn: &sea_orm::DatabaseConnection, table: &str) -> bool {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => format!(
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
        _ => format!(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        ),
    };
    let row = conn
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() == 1
}
