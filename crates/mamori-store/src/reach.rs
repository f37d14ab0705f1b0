//! Whether the database answers: once a statement finds it unreachable, later ones answer at
//! once instead of each waiting out the pool's acquire timeout (5 s), and one probe at a time,
//! in the background, finds out when it is back: no request is ever the one that waits.
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
    /// When the last probe while down started, if any.
    last_probe: Option<Instant>,
    /// Whether a probe is out now.
    probing: bool,
}

/// What a statement does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The database answers: go.
    Go,
    /// It is away: answer at once.
    Refuse,
    /// It is away: answer at once, and start the one probe (it is due).
    RefuseAndProbe,
}

impl Reachability {
    /// What a statement may do now: go while the database is up; while it is down, answer at
    /// once, and once per [`PROBE_EVERY`] (with no probe out) start a probe beside it.
    pub(crate) fn attempt(&self, now: Instant) -> Attempt {
        if !self.down.load(Ordering::Acquire) {
            return Attempt::Go;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.down_since.is_none() {
            return Attempt::Go;
        }
        let due = !state.probing
            && state
                .last_probe
                .is_none_or(|last| now.duration_since(last) >= PROBE_EVERY);
        if !due {
            return Attempt::Refuse;
        }
        state.last_probe = Some(now);
        state.probing = true;
        Attempt::RefuseAndProbe
    }

    /// Learns from a probe's result, and lets the next one start.
    pub(crate) fn probed<T>(&self, result: &Result<T, DbErr>, now: Instant) {
        self.observe(result, now);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.probing = false;
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
    fn while_down_every_statement_answers_at_once_and_one_probe_at_a_time_looks() {
        let reach = Reachability::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(reach.attempt(t0), Attempt::Go);
        reach.observe(&down(), t0);
        assert_eq!(reach.attempt(at(10)), Attempt::Refuse);
        assert_eq!(reach.attempt(at(200)), Attempt::Refuse);
        // A probe is due: the statement still answers at once, and starts the probe.
        assert_eq!(reach.attempt(at(260)), Attempt::RefuseAndProbe);
        // While it is out (it may wait the pool's 5 s), no second probe starts.
        assert_eq!(reach.attempt(at(600)), Attempt::Refuse);
        assert_eq!(reach.attempt(at(5000)), Attempt::Refuse);
        reach.probed(&down(), at(5260));
        assert_eq!(reach.attempt(at(5300)), Attempt::RefuseAndProbe);
        reach.probed(&Ok(()), at(5310));
        assert_eq!(reach.attempt(at(5311)), Attempt::Go);
        assert_eq!(reach.attempt(at(5312)), Attempt::Go);
    }

    #[test]
    fn a_refused_statement_does_not_mean_the_database_is_away() {
        let reach = Reachability::default();
        let t0 = Instant::now();
        reach.observe::<()>(&Err(DbErr::Custom("syntax".into())), t0);
        assert_eq!(reach.attempt(t0), Attempt::Go);
    }
}
