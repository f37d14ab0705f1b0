//! The connection pool and the unit of work.
//!
//! The use cases never open a transaction themselves: they ask [`Database::write`] for a
//! [`WriteTx`], hand it (or the [`Database`], for reads and single statements) to the
//! repository functions of this crate, and commit it. Dropping a `WriteTx` rolls it back. Both
//! implement sea-orm's `ConnectionTrait` by delegation, so the repositories take either and the
//! callers need no sea-orm of their own.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mamori_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, Statement, TransactionOptions, TransactionTrait,
};

use crate::account_mac::AccountMac;
use crate::audit::{AuditKey, NewAuditEvent};
use crate::batch::{self, FailureCount, ReadAll, Write, WriteAll};
use crate::error::StoreError;
use crate::group::{GroupCommits, Slot, Writer};
use crate::queue::{Batches, Queue};
use crate::reach::{Attempt, Reachability};

/// Told of each audit entry once the unit of work that appended it has committed, e.g. to count
/// it in the process's metrics. Never told of an entry that was rolled back.
pub trait AuditObserver: Send + Sync + std::fmt::Debug {
    /// `event` is durable.
    fn committed(&self, event: &NewAuditEvent);
}

/// Which engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: one file, one node.
    Sqlite,
    /// Production: shared by several stateless nodes.
    Postgres,
}

/// How long a background probe of an unreachable database may wait: it is never a caller's
/// request, but a shorter wait finds the database sooner once it is back.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection pool to Mamori's database.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
    observer: Option<Arc<dyn AuditObserver>>,
    reach: Arc<Reachability>,
    /// SQLite: the one writer every write goes through, committing in groups.
    writer: Option<Arc<Writer>>,
    /// The trail's key, installed once the master key has been read (see
    /// [`Database::install_audit_key`]); shared by every clone of the pool.
    audit_key: Arc<OnceLock<AuditKey>>,
    /// The account rows' MAC key (see [`Database::install_account_mac`]); shared by every
    /// clone of the pool.
    account_mac: Arc<OnceLock<AccountMac>>,
    /// PostgreSQL: the code checks' reads and acceptances, each run together (see
    /// [`crate::queue`]), started at the first; shared by every clone of the pool.
    check_reads: Arc<OnceLock<Queue<ReadAll>>>,
    writes: Arc<OnceLock<Queue<WriteAll>>>,
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
            // sqlx already tests every connection when it goes back to the pool (a Sync round
            // trip) and closes it if the server is gone; testing it again when it is taken
            // doubled the round trips of every statement on the check path (measured with
            // bench/profile.py). A connection that dies while idle fails its one statement
            // with `Unavailable` (503, Retry-After) and is then dropped.
            .test_before_acquire(false)
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
        Ok(Self::from_connection(conn))
    }

    /// Wraps an existing connection (tests).
    pub fn from_connection(conn: DatabaseConnection) -> Self {
        let writer = match conn.get_database_backend() {
            DbBackend::Sqlite => Some(Arc::default()),
            _ => None,
        };
        Self {
            conn,
            observer: None,
            reach: Arc::default(),
            writer,
            audit_key: Arc::default(),
            account_mac: Arc::default(),
            check_reads: Arc::default(),
            writes: Arc::default(),
        }
    }

    /// PostgreSQL: how many code checks' writes (acceptances, wrong codes, refusals' entries)
    /// ran together in how many statements (see [`crate::queue`]); `None` on SQLite.
    pub fn write_batches(&self) -> Option<Batches> {
        self.batch_counts(&self.writes)
    }

    /// PostgreSQL: how many code checks' reads ran in how many statements; `None` on SQLite.
    pub fn read_batches(&self) -> Option<Batches> {
        self.batch_counts(&self.check_reads)
    }

    /// PostgreSQL: a check's write run with the others that wait (see [`crate::batch`]),
    /// unless the database is known to be away: then at once, like every statement.
    pub(crate) async fn write_queued(&self, write: Write) -> Result<Option<FailureCount>, DbErr> {
        let queue = self.writes.get_or_init(|| self.start_queue());
        self.guarded(queue.submit(write)).await
    }

    /// PostgreSQL: a check's read run with the others that wait (see [`crate::batch`]),
    /// unless the database is known to be away: then at once, like every statement.
    pub(crate) async fn read_queued(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<Option<QueryResult>, DbErr> {
        let queue = self.check_reads.get_or_init(|| self.start_queue());
        self.guarded(queue.submit((tenant_id.to_owned(), user_id.to_owned())))
            .await
    }

    /// What went through `queue` so far (nothing before its first item); `None` on SQLite.
    fn batch_counts<B: crate::queue::Batch>(&self, queue: &OnceLock<Queue<B>>) -> Option<Batches> {
        (self.engine() == Engine::Postgres)
            .then(|| queue.get().map(Queue::counts).unwrap_or_default())
    }

    fn start_queue<B: crate::queue::Batch>(&self) -> Queue<B> {
        Queue::start(
            self.conn.get_postgres_connection_pool().clone(),
            self.reach.clone(),
            batch::WORKERS,
        )
    }

    /// Installs the trail's key: every audit entry written from now on carries its MAC, and
    /// the sealer and the chain check use it. Returns whether the key in place is `key` (the
    /// first one installed stays).
    pub fn install_audit_key(&self, key: AuditKey) -> bool {
        let installed = self.audit_key.get_or_init(|| key.clone());
        installed.same_as(&key)
    }

    /// Whether the trail's key is installed.
    pub fn has_audit_key(&self) -> bool {
        self.audit_key.get().is_some()
    }

    /// The trail's key; an entry cannot be written or sealed without it.
    pub(crate) fn audit_key(&self) -> Result<&AuditKey, StoreError> {
        self.audit_key.get().ok_or(StoreError::NoAuditKey)
    }

    /// Installs the account rows' MAC key: bindings, device keys and API keys are written with
    /// their MAC and read back only when it checks. Returns whether the key in place is `key`
    /// (the first one installed stays).
    pub fn install_account_mac(&self, key: AccountMac) -> bool {
        let installed = self.account_mac.get_or_init(|| key.clone());
        installed.same_as(&key)
    }

    /// Whether the account rows' MAC key is installed.
    pub fn has_account_mac(&self) -> bool {
        self.account_mac.get().is_some()
    }

    /// The account rows' MAC key; no binding, device key or API key is written or trusted
    /// without it.
    pub fn account_mac(&self) -> Result<&AccountMac, StoreError> {
        self.account_mac.get().ok_or(StoreError::NoAccountMac)
    }

    /// SQLite: how many units of work the writer committed, in how many `COMMIT`s.
    pub fn group_commits(&self) -> Option<GroupCommits> {
        self.writer.as_ref().map(|writer| writer.stats())
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
        self.execute_unprepared("SELECT 1")
            .await
            .map(|_| ())
            .map_err(StoreError::Unavailable)
    }

    /// Runs one statement (or BEGIN) unless the database is known to be away, and learns from
    /// its result.
    async fn guarded<T>(
        &self,
        statement: impl std::future::Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbErr> {
        match self.reach.attempt(Instant::now()) {
            Attempt::Go => {}
            Attempt::Refuse => return Err(Reachability::known_down()),
            Attempt::RefuseAndProbe => {
                let (conn, reach) = (self.conn.clone(), self.reach.clone());
                tokio::spawn(async move {
                    let ping = conn.execute_unprepared("SELECT 1");
                    let result = match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
                        Ok(result) => result.map(|_| ()),
                        Err(_) => Err(Reachability::known_down()),
                    };
                    reach.probed(&result, Instant::now());
                });
                return Err(Reachability::known_down());
            }
        }
        let result = statement.await;
        self.reach.observe(&result, Instant::now());
        result
    }

    /// The underlying sea-orm connection, for tests and tools that inspect or tamper with the
    /// database directly (as an attacker with database access would). The product goes
    /// through the repositories.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// This database, telling `observer` of every audit entry its units of work commit.
    pub fn observed_by(mut self, observer: Arc<dyn AuditObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Opens a unit of work: a write transaction that commits with [`WriteTx::commit`] and rolls
    /// back when dropped. On SQLite it takes the write lock at BEGIN (`IMMEDIATE`), so two
    /// transactions never both read and then fail to upgrade; on PostgreSQL the conditional
    /// writes take row locks.
    ///
    /// On SQLite the unit is a savepoint in the writer's group transaction (see
    /// [`crate::group`]): units that queue while one runs share its `COMMIT`, and
    /// [`WriteTx::commit`] returns once that is durable.
    pub async fn write(&self) -> Result<WriteTx, StoreError> {
        let begin = async || -> Result<DatabaseTransaction, StoreError> {
            Ok(self
                .guarded(self.conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                }))
                .await?)
        };
        let (txn, slot) = match &self.writer {
            Some(writer) => {
                let (txn, slot) = writer.join(begin).await?;
                (txn, Some(slot))
            }
            None => (begin().await?, None),
        };
        Ok(WriteTx {
            txn,
            slot,
            audit_key: self.audit_key.clone(),
            observer: self.observer.clone(),
            audited: Mutex::new(Vec::new()),
        })
    }

    /// SQLite: runs one write statement as a unit of its own, so it joins a group instead of
    /// waiting for SQLite's write lock beside the writer.
    async fn write_alone<T>(
        &self,
        statement: impl AsyncFnOnce(&WriteTx) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let tx = self.write().await.map_err(into_db_err)?;
        let result = statement(&tx).await?;
        tx.commit().await.map_err(into_db_err)?;
        Ok(result)
    }
}

impl Database {
    /// Tells the observer of `events`, durable now.
    pub(crate) fn tell_observer(&self, events: &[NewAuditEvent]) {
        if let Some(observer) = &self.observer {
            for event in events {
                observer.committed(event);
            }
        }
    }

    /// Appends `events` on their own, in one autocommit statement (a refusal that changed
    /// nothing else needs no transaction) — on PostgreSQL together with the others that wait
    /// (see [`crate::queue`]) — then tells the observer of them.
    pub async fn append_audit_alone(
        &self,
        events: Vec<NewAuditEvent>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = self.audit_key()?;
        match self.engine() {
            Engine::Postgres => {
                let entries = events
                    .iter()
                    .map(|event| batch::PendingEntry::of(key, event.clone(), now))
                    .collect();
                let written = self.write_queued(Write::Record(entries)).await?;
                if written.is_none() {
                    // The statement met a deadlock with something else it carried.
                    crate::audit::append_all(self, key, events.clone(), now).await?;
                }
            }
            Engine::Sqlite => crate::audit::append_all(self, key, events.clone(), now).await?,
        }
        self.tell_observer(&events);
        Ok(())
    }
}

/// One unit of work: a write transaction. Commit it with [`WriteTx::commit`]; dropping it
/// rolls it back.
#[derive(Debug)]
pub struct WriteTx {
    // Declared before `slot`: dropped first, so an abandoned unit's savepoint is rolled back
    // before the writer passes to the next unit.
    txn: DatabaseTransaction,
    /// SQLite: this unit's place in the writer's group.
    slot: Option<Slot>,
    audit_key: Arc<OnceLock<AuditKey>>,
    observer: Option<Arc<dyn AuditObserver>>,
    /// The audit entries appended, for the observer once they are durable.
    audited: Mutex<Vec<NewAuditEvent>>,
}

impl WriteTx {
    /// Makes every write of the unit durable at once, then tells the observer of its audit
    /// entries.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await?;
        if let Some(slot) = self.slot {
            slot.finish().await?;
        }
        if let Some(observer) = self.observer {
            let audited = self.audited.into_inner().unwrap_or_else(|p| p.into_inner());
            for event in &audited {
                observer.committed(event);
            }
        }
        Ok(())
    }

    /// Appends `events` to their chain in this unit (see [`crate::audit::append_all`]); the
    /// observer hears of them once the unit commits.
    pub async fn append_audit(
        &self,
        events: Vec<NewAuditEvent>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.observer.is_some() {
            let mut audited = self.audited.lock().unwrap_or_else(|p| p.into_inner());
            audited.extend_from_slice(&events);
        }
        let key = self.audit_key.get().ok_or(StoreError::NoAuditKey)?;
        crate::audit::append_all(self, key, events, now).await
    }

    /// Undoes every write of the unit (dropping it does the same, later).
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.txn.rollback().await?)
    }

    /// A nested unit (a savepoint): a statement that fails inside it, e.g. on a unique index,
    /// leaves the outer unit usable (PostgreSQL aborts a whole transaction on a failed
    /// statement otherwise).
    /// Audit entries are appended to the outer unit, never inside a savepoint, so a savepoint
    /// has nothing to observe.
    pub(crate) async fn savepoint(&self) -> Result<WriteTx, StoreError> {
        Ok(WriteTx {
            txn: self.txn.begin().await?,
            slot: None,
            audit_key: self.audit_key.clone(),
            observer: None,
            audited: Mutex::new(Vec::new()),
        })
    }
}

/// Whether a statement may write (anything but a plain `SELECT`): on SQLite it goes through
/// the writer.
fn writes(sql: &str) -> bool {
    let head = sql.trim_start();
    !head
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("SELECT"))
}

fn into_db_err(err: StoreError) -> DbErr {
    match err {
        StoreError::Unavailable(err) | StoreError::Conflict(err) | StoreError::Refused(err) => err,
        StoreError::Corrupt(why) => DbErr::Custom(why),
        err @ (StoreError::NoAuditKey | StoreError::NoAccountMac | StoreError::Unkeyed(_)) => {
            DbErr::Custom(err.to_string())
        }
    }
}

/// Delegates to the pool, so repository functions take a `&Database` for reads; on SQLite a
/// statement that writes runs as a unit of its own through the writer.
#[async_trait::async_trait]
impl ConnectionTrait for Database {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        if self.writer.is_some() && writes(&stmt.sql) {
            return self
                .write_alone(async |tx| tx.execute_raw(stmt).await)
                .await;
        }
        self.guarded(self.conn.execute_raw(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        if self.writer.is_some() && writes(sql) {
            return self
                .write_alone(async |tx| tx.execute_unprepared(sql).await)
                .await;
        }
        self.guarded(self.conn.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if self.writer.is_some() && writes(&stmt.sql) {
            return self
                .write_alone(async |tx| tx.query_one_raw(stmt).await)
                .await;
        }
        self.guarded(self.conn.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if self.writer.is_some() && writes(&stmt.sql) {
            return self
                .write_alone(async |tx| tx.query_all_raw(stmt).await)
                .await;
        }
        self.guarded(self.conn.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
}

/// Delegates to the transaction, so repository functions take a `&WriteTx` inside a unit.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTx {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}
