//! The store's errors, sorted by what the caller can do about them: retry later (the database
//! is away or asked us to retry; nothing was decided), answer "someone else won" (a unique
//! index refused the write), or report a bug (a statement the database refused for good, or
//! stored data that does not read back).

use std::ops::Deref;

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// What can go wrong in the store, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached, or refused for a reason that passes (a lost
    /// connection, a full pool, a serialization failure, a busy SQLite file): nothing can be
    /// concluded about the request, so callers answer 503 and never count it as a wrong code.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// A unique constraint refused the write: a concurrent or earlier request won.
    #[error("conflicting write: {0}")]
    Conflict(#[source] DbErr),
    /// The database refused a statement for good (retrying cannot help): a bug or input that
    /// should have been refused before it got here. Callers answer 500 and log it.
    #[error("database refused the statement: {0}")]
    Refused(#[source] DbErr),
    /// Stored data could not be read back (e.g. a policy JSON of an unknown shape).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// An audit entry was to be written, sealed or checked before the trail's key was
    /// installed (a bug: every path that writes loads the key first).
    #[error("the audit trail's key is not loaded (this needs the master key)")]
    NoAuditKey,
    /// A binding, device key or API key was to be written or trusted before the account MAC
    /// key was installed (a bug: every path that reads them loads the key first).
    #[error("the account rows' MAC key is not loaded (this needs the master key)")]
    NoAccountMac,
    /// The bank's audit chain was written before the trail was keyed (or its head was reset in
    /// the database): nothing is sealed into it until an operator re-links it.
    #[error(
        "the audit chain of {0} is not keyed: nothing is sealed into it until an operator runs `mamori audit rekey`"
    )]
    Unkeyed(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
            Self::Conflict(err)
        } else if is_transient(&err) {
            Self::Unavailable(err)
        } else {
            Self::Refused(err)
        }
    }
}

/// Whether the same statement may succeed if tried again later.
fn is_transient(err: &DbErr) -> bool {
    let sqlx_error = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx_error.deref() {
        sqlx::Error::Database(db) => {
            let engine = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                Engine::Sqlite
            } else {
                Engine::Postgres
            };
            db.code().is_some_and(|code| transient_code(engine, &code))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

#[derive(Debug, Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// PostgreSQL's SQLSTATE classes and codes that mean "try again", and SQLite's busy, locked,
/// I/O and full-disk results (extended codes keep the primary code in their low byte).
fn transient_code(engine: Engine, code: &str) -> bool {
    match engine {
        Engine::Sqlite => code
            .parse::<u32>()
            .is_ok_and(|result| matches!(result & 0xff, 5 | 6 | 10 | 13)),
        Engine::Postgres => {
            code.starts_with("08") // connection exception
                || code.starts_with("53") // insufficient resources
                || code.starts_with("57P") // operator intervention (shutdown, crash recovery)
                || matches!(code, "40001" | "40P01" | "55P03") // serialization, deadlock, lock timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Engine, transient_code};

    #[test]
    fn retryable_codes_are_told_from_final_ones() {
        for code in ["40001", "40P01", "08006", "57P01", "53300", "55P03"] {
            assert!(transient_code(Engine::Postgres, code), "{code}");
        }
        for code in ["5", "517", "6", "262", "13"] {
            assert!(transient_code(Engine::Sqlite, code), "{code}");
        }
        // NUL in text, division by zero, a missing table, a check constraint.
        for code in ["22021", "22012", "42P01", "23514"] {
            assert!(!transient_code(Engine::Postgres, code), "{code}");
        }
        // Constraint (also its extended UNIQUE form) and SQL-error results.
        for code in ["19", "2067", "1"] {
            assert!(!transient_code(Engine::Sqlite, code), "{code}");
        }
    }
}
