//! Rate limits: how many requests of one kind a key (a client address, a user, a credential)
//! may make per fixed window.

use chrono::Duration;

/// At most `max` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max: i64,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// `max` requests an hour.
    pub const fn per_hour(max: i64) -> Self {
        Self {
            max,
            window: Duration::hours(1),
        }
    }
}
