//! One database per test, created fresh and dropped afterwards.

use mamori_store::Database;
use sea_orm::{ConnectionTrait, Database as SeaDatabase};

/// The engines Mamori runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEngine {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A new database on the PostgreSQL server at `MAMORI_TEST_POSTGRES_URL`
    /// (default `postgres://postgres@127.0.0.1:5432/test`).
    Postgres,
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("MAMORI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A test's own database. Dropping it removes the database (PostgreSQL) or its directory
/// (SQLite).
#[derive(Debug)]
pub struct TestDb {
    /// The URL the product connects with.
    pub url: String,
    /// The engine.
    pub engine: TestEngine,
    /// For PostgreSQL, the database's name.
    pg_name: Option<String>,
    /// For SQLite, the directory holding the file.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates an empty database (not migrated).
    pub async fn create(engine: TestEngine) -> Self {
        match engine {
            TestEngine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("mamori.db");
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    engine,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            TestEngine::Postgres => {
                let name = format!("mamori_t_{}", uuid::Uuid::new_v4().simple());
                let admin = SeaDatabase::connect(postgres_admin_url())
                    .await
                    .expect("PostgreSQL for tests (set MAMORI_TEST_POSTGRES_URL)");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                Self {
                    url: with_database(&postgres_admin_url(), &name),
                    engine,
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// Creates and migrates a database, returning the store over it.
    pub async fn migrated(engine: TestEngine) -> (Self, Database) {
        let test_db = Self::create(engine).await;
        let db = Database::connect(&test_db.url).await.expect("connect");
        db.migrate().await.expect("migrate");
        (test_db, db)
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async context; a short-lived runtime on its own thread removes the
        // database even if the test's runtime is shutting down.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = SeaDatabase::connect(postgres_admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}
