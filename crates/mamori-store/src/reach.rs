//! Whether the database answers: once a statement finds it unreachable, later ones answer at
//! once instead of each waiting out the pool's acquire timeout (5 s), and one probe at a time
//! finds out when it is back.
//!
//! A bank's IB server with a 3-second timeout would otherwise see every request time out while
//! the database is away, instead of a 503 with `Retry-After` it can act on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, sqlx};

/// How often, while the database is away, one request may try it again.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// The last known reachability of one pool's database.
#[derive(Debug, Default)]
pub(crate) struct Reachability {
    /// Whether `state.down_since` is set: read without the lock, so a statement pays one
    /// atomic load while the database answers (every statement of every code check passes
    /// here).
    down: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the database was last found unreachable; `None` while it answers.
    down_since: Option<Instant>,
    /// When the last try while down started (a probe), if any.
    last_probe: Option<Instant>,
}

impl Reachability {
    /// Whether a statement may go to the database now: always while it is up; while it is
    /// down, one caller per [`PROBE_EVERY`] (the probe) and no one else.
    pub(crate) fn may_try(&self, now: Instant) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.down_since.is_none() {
            return true;
        }
        let due = state
            .last_probe
            .is_none_or(|last| now.duration_since(last) >= PROBE_EVERY);
        if due {
            state.last_probe = Some(now);
        }
        due
    }

    /// Learns from a statement's result.
    pub(crate) fn observe<T>(&self, result: &Result<T, DbErr>, now: Instant) {
        let unreachable = matches!(result, Err(err) if is_unreachable(err));
        if !unreachable && !self.down.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match (unreachable, state.down_since) {
            (true, None) => {
                tracing::warn!("database unreachable: answering 503 at once until it is back");
                state.down_since = Some(now);
                state.last_probe = Some(now);
                self.down.store(true, Ordering::Release);
            }
            (false, Some(since)) if result.is_ok() => {
                tracing::info!(
                    down_ms = now.duration_since(since).as_millis() as u64,
                    "database reachable again"
                );
                *state = State::default();
                self.down.store(false, Ordering::Release);
            }
            _ => {}
        }
    }

    /// The error a statement gets without trying while the database is known to be away.
    pub(crate) fn known_down() -> DbErr {
        DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
    }
}

/// The database (or the way to it) is gone, as opposed to refusing one statement.
fn is_unreachable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                **e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), DbErr> {
        Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
    }

    #[test]
    fn while_down_one_probe_per_interval_tries_and_a_success_ends_it() {
        let reach = Reachability::default();
        let t0 = Instant::now();
        assert!(reach.may_try(t0));
        reach.observe(&down(), t0);
        // Everyone else answers at once…
        assert!(!reach.may_try(t0 + Duration::from_millis(10)));
        assert!(!reach.may_try(t0 + Duration::from_millis(200)));
        // …until a probe is due; then only that one caller tries.
        let probe = t0 + Duration::from_millis(260);
        assert!(reach.may_try(probe));
        assert!(!reach.may_try(probe + Duration::from_millis(1)));
        reach.observe(&down(), probe + Duration::from_millis(5));
        assert!(!reach.may_try(probe + Duration::from_millis(100)));
        let next = probe + Duration::from_millis(300);
        assert!(reach.may_try(next));
        reach.observe(&Ok(()), next);
        assert!(reach.may_try(next + Duration::from_millis(1)));
        assert!(reach.may_try(next + Duration::from_millis(2)));
    }

    #[test]
    fn a_refused_statement_does_not_mean_the_database_is_away() {
        let reach = Reachability::default();
        let t0 = Instant::now();
        reach.observe::<()>(&Err(DbErr::Custom("syntax".into())), t0);
        assert!(reach.may_try(t0));
    }
}
