//! Rate limits: how many requests of one kind a key (a client address, a user, a credential)
//! may make per fixed window.

use chrono::{DateTime, Duration, DurationRound, Utc};

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

    /// The start of the window `now` falls in (windows are aligned to the epoch, so every
    /// node agrees on them).
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.duration_trunc(self.window).unwrap_or(now)
    }

    /// Whole seconds until the window `now` falls in ends, at least 1: what a refused client
    /// is told to wait (`Retry-After`).
    pub fn retry_after_seconds(&self, now: DateTime<Utc>) -> u32 {
        let left = self.window_start(now) + self.window - now;
        let seconds = (left.num_milliseconds() + 999) / 1000;
        u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_refused_client_waits_until_the_window_ends() {
        let hourly = RateLimit::per_hour(20);
        assert_eq!(
            hourly.window_start(at("2026-12-01T10:59:59Z")),
            at("2026-12-01T10:00:00Z")
        );
        assert_eq!(hourly.retry_after_seconds(at("2026-12-01T10:00:00Z")), 3600);
        assert_eq!(hourly.retry_after_seconds(at("2026-12-01T10:59:00Z")), 60);
        assert_eq!(
            hourly.retry_after_seconds(at("2026-12-01T10:59:59.500Z")),
            1
        );
    }
}
