//! Prometheus metrics, served as text at `GET /metrics`: HTTP requests, and per bank what the
//! audit trail records (code checks by operation and outcome, locks, registrations, logins,
//! push answers), counted as each entry commits on this node. Sum over nodes in queries;
//! `monitoring/grafana-dashboard.json` draws them.

use mamori_domain::stats::Metric;
use mamori_service::{CountedEvent, EventCounter};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The process's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    events: IntCounterVec,
    code_checks: IntCounterVec,
    locks: IntCounterVec,
    registrations: IntCounterVec,
    logins: IntCounterVec,
    push_answers: IntCounterVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("static metric definition: {e}"))
}

impl Metrics {
    /// Creates the metric families.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("mamori".into()), None).unwrap_or_else(|_| Registry::new());
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by operation and status",
            ),
            &["operation", "status"],
        )
        .unwrap_or_else(|e| panic!("static metric definition: {e}"));
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by operation",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["operation"],
        )
        .unwrap_or_else(|e| panic!("static metric definition: {e}"));
        let events = counter(
            "audit_events_total",
            "Audit entries committed, by bank, operation and outcome (success, alert, or the error code)",
            &["bank", "operation", "outcome"],
        );
        let code_checks = counter(
            "code_checks_total",
            "One-time codes checked, by bank, operation and outcome (success or the error code)",
            &["bank", "operation", "outcome"],
        );
        let locks = counter(
            "locks_total",
            "Tokens or login passwords locked by a wrong attempt, by bank",
            &["bank"],
        );
        let registrations = counter(
            "registrations_total",
            "Tokens registered (利用開始登録, 機種変更), by bank",
            &["bank"],
        );
        let logins = counter("logins_total", "Logins completed, by bank", &["bank"]);
        let push_answers = counter(
            "push_answers_total",
            "Push approvals answered or expired, by bank and decision",
            &["bank", "decision"],
        );
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(events.clone()),
            Box::new(code_checks.clone()),
            Box::new(locks.clone()),
            Box::new(registrations.clone()),
            Box::new(logins.clone()),
            Box::new(push_answers.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| panic!("metric registered twice: {e}"));
        }
        Self {
            registry,
            requests,
            duration,
            events,
            code_checks,
            locks,
            registrations,
            logins,
            push_answers,
        }
    }

    /// Records one finished request.
    pub fn observe(&self, operation: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[operation, &status.to_string()])
            .inc();
        self.duration
            .with_label_values(&[operation])
            .observe(seconds);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl EventCounter for Metrics {
    fn count(&self, event: &CountedEvent<'_>) {
        let operation = event.operation.as_str();
        let outcome = event.error_code.unwrap_or(event.outcome.as_str());
        self.events
            .with_label_values(&[event.bank, operation, outcome])
            .inc();
        for figure in event.figures {
            match figure {
                Metric::CodesAccepted | Metric::CodesRejected => self
                    .code_checks
                    .with_label_values(&[event.bank, operation, outcome])
                    .inc(),
                Metric::Locks => self.locks.with_label_values(&[event.bank]).inc(),
                Metric::Registrations => {
                    self.registrations.with_label_values(&[event.bank]).inc();
                }
                Metric::Logins => self.logins.with_label_values(&[event.bank]).inc(),
                Metric::PushApproved => self.push_answer(event.bank, "approved"),
                Metric::PushDenied => self.push_answer(event.bank, "denied"),
                Metric::PushExpired => self.push_answer(event.bank, "expired"),
            }
        }
    }
}

impl Metrics {
    fn push_answer(&self, bank: &str, decision: &str) {
        self.push_answers.with_label_values(&[bank, decision]).inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
