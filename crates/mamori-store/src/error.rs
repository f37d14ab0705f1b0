//! The store's errors, sorted by what the caller can do about them: retry later (the database
//! is away; nothing was decided), answer "someone else won" (a unique index refused the write),
//! or report a bug (stored data that does not read back).

use sea_orm::{DbErr, SqlErr};

/// What can go wrong in the store, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or failed; nothing can be concluded about the
    /// request, so callers answer 503 and never count it as a wrong code.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// A unique constraint refused the write: a concurrent or earlier request won.
    #[error("conflicting write: {0}")]
    Conflict(#[source] DbErr),
    /// Stored data could not be read back (e.g. a policy JSON of an unknown shape).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict(err),
            _ => Self::Unavailable(err),
        }
    }
}
