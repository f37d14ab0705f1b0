//! Prometheus metrics, served as text at `GET /metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The process's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
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
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| panic!("metric registered twice: {e}"));
        }
        Self {
            registry,
            requests,
            duration,
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

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
