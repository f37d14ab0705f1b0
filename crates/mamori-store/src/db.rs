use std::time::Duration;

use mamori_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend};

use crate::StoreError;

/// Which engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: one file, one node.
    Sqlite,
    /// Production: shared by several stateless nodes.
    Postgres,
}

/// A connection pool to Mamori's database.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
}

impl Database {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
    ///
    /// SQLite runs in WAL mode so readers never block the writer, with `synchronous=FULL`
    /// because a lost fail-counter or used-step write after a power cut would reopen a
    /// guessing window, and with a busy timeout so concurrent writers queue instead of failing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        if url.starts_with("sqlite:") {
            // One writer at a time is SQLite's model; a small pool avoids piling up on the
            // write lock while still letting reads run beside it.
            options.max_connections(8);
        } else {
            options.max_connections(32);
        }
        let conn = sea_orm::Database::connect(options)
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(Self { conn })
    }

    /// Wraps an existing connection (tests).
    pub fn from_connection(conn: DatabaseConnection) -> Self {
        Self { conn }
    }

    /// The engine behind this pool.
    pub fn engine(&self) -> Engine {
        match self.conn.get_database_backend() {
            DbBackend::Postgres => Engine::Postgres,
            _ => Engine::Sqlite,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.conn, None)
            .await
            .map_err(StoreError::Unavailable)
    }

    /// Number of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations(&self.conn).await?.len())
    }

    /// Checks the database answers a trivial query (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn
            .execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(StoreError::Unavailable)
    }

    /// The underlying sea-orm connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }
}
