//! One pooled connection held for the few statements of a code check.
//!
//! sqlx tests every PostgreSQL connection as it goes back to the pool (a Sync round trip it
//! always makes), so each statement run through the pool costs two round trips and a pool
//! hand-over. A code check's read and its decision (or its refusal) run one after the other;
//! on one held connection they cost one test and one hand-over between them.
//!
//! Whoever holds a [`Pinned`] must not take another connection from the pool until it is
//! dropped: with every connection held by a check waiting for a second one, the pool would
//! stall until its acquire timeout. A check therefore loads what it may read from the pool
//! (policy, keys) before it pins, and drops the pin before it opens a unit of work.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use crate::audit::NewAuditEvent;
use crate::db::{Database, Engine};
use crate::error::StoreError;

/// A connection held for a few statements in a row (PostgreSQL); on SQLite, whose writes go
/// through the one writer, every statement goes through the [`Database`] as usual.
#[derive(Debug)]
pub struct Pinned<'a> {
    db: &'a Database,
    held: Option<Mutex<PoolConnection<Postgres>>>,
}

impl Database {
    /// Takes one connection from the pool for the statements that follow (see [`Pinned`]).
    pub async fn pin(&self) -> Result<Pinned<'_>, StoreError> {
        let held = match self.engine() {
            Engine::Postgres => {
                let pool = self.connection().get_postgres_connection_pool();
                let conn = self
                    .guarded(async { pool.acquire().await.map_err(acquire_error) })
                    .await?;
                Some(Mutex::new(conn))
            }
            Engine::Sqlite => None,
        };
        Ok(Pinned { db: self, held })
    }
}

impl Pinned<'_> {
    /// The pool this connection came from.
    pub fn db(&self) -> &Database {
        self.db
    }

    /// [`Database::append_audit_alone`] on this connection.
    pub async fn append_audit_alone(
        &self,
        events: Vec<NewAuditEvent>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.held.is_none() {
            return self.db.append_audit_alone(events, now).await;
        }
        crate::audit::append_all(self, self.db.audit_key()?, events.clone(), now).await?;
        self.db.tell_observer(&events);
        Ok(())
    }

    /// Runs `statement` on the held connection and learns from its result whether the
    /// database answers, as every statement through the pool does.
    async fn on_held<T>(
        &self,
        held: &Mutex<PoolConnection<Postgres>>,
        statement: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let mut conn = held.lock().await;
        let result = statement(&mut conn).await;
        self.db.observe_reach(&result, Instant::now());
        result
    }
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

fn acquire_error(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(other.into())),
    }
}

fn exec_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(err.into()))
}

fn query_error(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(err.into()))
}

/// The held connection on PostgreSQL, the [`Database`] on SQLite.
#[async_trait::async_trait]
impl ConnectionTrait for Pinned<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let Some(held) = &self.held else {
            return self.db.execute_raw(stmt).await;
        };
        self.on_held(held, async |conn| {
            query(&stmt)
                .execute(conn)
                .await
                .map(Into::into)
                .map_err(exec_error)
        })
        .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let Some(held) = &self.held else {
            return self.db.execute_unprepared(sql).await;
        };
        self.on_held(held, async |conn| {
            sqlx::Executor::execute(conn, sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .map(Into::into)
                .map_err(exec_error)
        })
        .await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let Some(held) = &self.held else {
            return self.db.query_one_raw(stmt).await;
        };
        self.on_held(held, async |conn| {
            query(&stmt)
                .fetch_optional(conn)
                .await
                .map(|row| row.map(Into::into))
                .map_err(query_error)
        })
        .await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let Some(held) = &self.held else {
            return self.db.query_all_raw(stmt).await;
        };
        self.on_held(held, async |conn| {
            query(&stmt)
                .fetch_all(conn)
                .await
                .map(|rows| rows.into_iter().map(Into::into).collect())
                .map_err(query_error)
        })
        .await
    }

    fn support_returning(&self) -> bool {
        self.db.support_returning()
    }
}
