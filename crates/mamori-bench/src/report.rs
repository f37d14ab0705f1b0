//! What a bench run measured: throughput, latency percentiles, answers by kind, status and
//! problem code, and the answers that were not the expected ones. Printed as text and JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::pool::Kind;

/// Latencies of one worker or of the run, in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    /// Records one.
    pub fn add(&mut self, took: Duration) {
        self.0
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds another's.
    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The summary.
    pub fn summary(mut self) -> LatencySummary {
        self.0.sort_unstable();
        let ms = |micros: u32| f64::from(micros) / 1000.0;
        let at = |p: f64| {
            if self.0.is_empty() {
                return 0.0;
            }
            // Nearest rank.
            let rank = ((p * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
            ms(self.0[rank - 1])
        };
        let mean = if self.0.is_empty() {
            0.0
        } else {
            self.0.iter().map(|&v| f64::from(v)).sum::<f64>() / self.0.len() as f64 / 1000.0
        };
        LatencySummary {
            count: self.0.len() as u64,
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: self.0.last().copied().map_or(0.0, ms),
            mean_ms: mean,
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LatencySummary {
    /// Requests measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// One kind of answer and how often it came.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// What was sent.
    pub kind: Kind,
    /// The HTTP status (0: no answer, e.g. a connection error or timeout).
    pub status: u16,
    /// The problem's `code`, if any.
    pub code: Option<String>,
    /// Whether it is the answer the kind expects.
    pub expected: bool,
    /// How often.
    pub count: u64,
}

/// An answer that was not the expected one, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Unexpected {
    /// What was sent.
    pub kind: Kind,
    /// The bank.
    pub bank: String,
    /// The user.
    pub user_id: String,
    /// Status (0: no answer).
    pub status: u16,
    /// The body or the transport error, shortened.
    pub detail: String,
}

/// Tallies of one worker (merged into the run's).
#[derive(Debug, Default)]
pub struct Tally {
    /// All latencies.
    pub all: Latencies,
    /// Latencies by kind.
    pub by_kind: BTreeMap<Kind, Latencies>,
    /// Answers by (kind, status, code).
    pub outcomes: BTreeMap<(Kind, u16, Option<String>), u64>,
    /// Requests not sent, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// The first unexpected answers.
    pub unexpected: Vec<Unexpected>,
    /// All unexpected answers.
    pub unexpected_count: u64,
}

/// How many unexpected answers are kept with their details.
const UNEXPECTED_SHOWN: usize = 20;

impl Tally {
    /// Records an answer.
    pub fn answer(&mut self, kind: Kind, status: u16, code: Option<String>, took: Duration) {
        self.all.add(took);
        self.by_kind.entry(kind).or_default().add(took);
        *self.outcomes.entry((kind, status, code)).or_default() += 1;
    }

    /// Records an unexpected answer's details.
    pub fn unexpected(&mut self, what: Unexpected) {
        self.unexpected_count += 1;
        if self.unexpected.len() < UNEXPECTED_SHOWN {
            self.unexpected.push(what);
        }
    }

    /// Adds another worker's.
    pub fn merge(&mut self, other: Tally) {
        self.all.merge(other.all);
        for (kind, latencies) in other.by_kind {
            self.by_kind.entry(kind).or_default().merge(latencies);
        }
        for (key, count) in other.outcomes {
            *self.outcomes.entry(key).or_default() += count;
        }
        for (reason, count) in other.skipped {
            *self.skipped.entry(reason).or_default() += count;
        }
        self.unexpected_count += other.unexpected_count;
        for item in other.unexpected {
            if self.unexpected.len() < UNEXPECTED_SHOWN {
                self.unexpected.push(item);
            }
        }
    }
}

/// The run's settings, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The server.
    pub url: String,
    /// Concurrent requests.
    pub concurrency: usize,
    /// The planned duration.
    pub duration_s: f64,
    /// The request limit, if any.
    pub max_requests: Option<u64>,
    /// Banks used.
    pub banks: usize,
    /// Users used.
    pub users: usize,
    /// The mix, in percent.
    pub mix: BTreeMap<Kind, u32>,
    /// Whether correct codes also use the steps of the window.
    pub spend_window: bool,
    /// The offered load in requests a second, if paced.
    pub rate: Option<u32>,
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was asked.
    pub settings: Settings,
    /// How long it ran.
    pub elapsed_s: f64,
    /// Requests answered (any answer, connection errors included).
    pub requests: u64,
    /// `requests / elapsed_s`.
    pub requests_per_second: f64,
    /// Correct codes accepted per second.
    pub accepted_per_second: f64,
    /// Latency of every request.
    pub latency: LatencySummary,
    /// Latency by kind.
    pub latency_by_kind: BTreeMap<Kind, LatencySummary>,
    /// Answers.
    pub outcomes: Vec<Outcome>,
    /// Requests not sent, by reason (e.g. `no_fresh_user`).
    pub skipped: BTreeMap<String, u64>,
    /// Answers that were not the expected ones.
    pub unexpected: u64,
    /// The first of them.
    pub unexpected_examples: Vec<Unexpected>,
}

impl Report {
    /// The report of a run.
    pub fn new(settings: Settings, elapsed: Duration, tally: Tally) -> Self {
        let elapsed_s = elapsed.as_secs_f64();
        let per_second = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        let outcomes: Vec<Outcome> = tally
            .outcomes
            .into_iter()
            .map(|((kind, status, code), count)| {
                let (want_status, want_code) = kind.expected();
                Outcome {
                    kind,
                    status,
                    expected: status == want_status && code.as_deref() == want_code,
                    code,
                    count,
                }
            })
            .collect();
        let requests = outcomes.iter().map(|o| o.count).sum();
        let accepted = outcomes
            .iter()
            .filter(|o| o.kind == Kind::Correct && o.expected)
            .map(|o| o.count)
            .sum();
        Self {
            settings,
            elapsed_s,
            requests,
            requests_per_second: per_second(requests),
            accepted_per_second: per_second(accepted),
            latency: tally.all.summary(),
            latency_by_kind: tally
                .by_kind
                .into_iter()
                .map(|(kind, l)| (kind, l.summary()))
                .collect(),
            outcomes,
            skipped: tally
                .skipped
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            unexpected: tally.unexpected_count,
            unexpected_examples: tally.unexpected,
        }
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        let mix: Vec<String> = s
            .mix
            .iter()
            .map(|(k, v)| format!("{}={v}", k.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "verifyOtp against {}: {} bank(s), {} user(s), concurrency {}, mix {}{}",
            s.url,
            s.banks,
            s.users,
            s.concurrency,
            mix.join(","),
            if s.spend_window {
                ", correct codes over the window's steps"
            } else {
                ""
            }
        );
        if let Some(rate) = s.rate {
            let _ = writeln!(out, "  paced at {rate} requests/s offered");
        }
        let _ = writeln!(
            out,
            "{} requests in {:.2} s: {:.1} requests/s ({:.1} correct codes accepted/s)",
            self.requests, self.elapsed_s, self.requests_per_second, self.accepted_per_second
        );
        let line = |out: &mut String, name: &str, l: &LatencySummary| {
            let _ = writeln!(
                out,
                "  {name:<8} {:>8}  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms",
                l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        };
        let _ = writeln!(out, "latency:");
        line(&mut out, "all", &self.latency);
        for (kind, l) in &self.latency_by_kind {
            line(&mut out, kind.as_str(), l);
        }
        let _ = writeln!(out, "answers:");
        for o in &self.outcomes {
            let _ = writeln!(
                out,
                "  {:<8} {:>3} {:<24} {:>9}{}",
                o.kind.as_str(),
                o.status,
                o.code.as_deref().unwrap_or("-"),
                o.count,
                if o.expected { "" } else { "  UNEXPECTED" }
            );
        }
        for (reason, count) in &self.skipped {
            let _ = writeln!(out, "not sent: {reason} {count}");
        }
        if self.skipped.contains_key(Kind::Correct.shortage()) {
            let _ = writeln!(
                out,
                "note: fresh codes ran out (each user's step is spent once), so the users, not \
                 the server, bounded the rate at times: seed more users or add --spend-window"
            );
        }
        if self.unexpected > 0 {
            let _ = writeln!(
                out,
                "ERRORS: {} unexpected answer(s); first:",
                self.unexpected
            );
            for u in &self.unexpected_examples {
                let _ = writeln!(
                    out,
                    "  {} {} {} -> {} {}",
                    u.kind.as_str(),
                    u.bank,
                    u.user_id,
                    u.status,
                    u.detail
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.add(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p95_ms, 95.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
    }

    #[test]
    fn answers_other_than_the_expected_are_flagged() {
        let mut tally = Tally::default();
        tally.answer(Kind::Correct, 200, None, Duration::from_millis(1));
        tally.answer(
            Kind::Replay,
            409,
            Some("otp_already_used".into()),
            Duration::from_millis(1),
        );
        tally.answer(
            Kind::Correct,
            409,
            Some("otp_already_used".into()),
            Duration::from_millis(1),
        );
        let settings = Settings {
            url: "http://127.0.0.1:1".into(),
            concurrency: 1,
            duration_s: 1.0,
            max_requests: None,
            banks: 1,
            users: 1,
            mix: BTreeMap::new(),
            spend_window: false,
            rate: None,
        };
        let report = Report::new(settings, Duration::from_secs(1), tally);
        let flagged: Vec<_> = report.outcomes.iter().filter(|o| !o.expected).collect();
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0].kind, flagged[0].status), (Kind::Correct, 409));
        assert_eq!(report.requests, 3);
        assert!(report.render().contains("UNEXPECTED"));
    }
}
