//! Counting what happened, for monitoring: each audit entry, once durable, is handed to the
//! process's counter with the console's figures it counts as. The audit trail stays the one
//! place that decides what happened; metrics only tally it.

use std::sync::Arc;

use mamori_domain::stats::{Metric, metrics_of};
use mamori_domain::{AuditOutcome, Operation};
use mamori_store::AuditObserver;
use mamori_store::audit::NewAuditEvent;

/// One audited event, as a counter sees it.
#[derive(Debug)]
pub struct CountedEvent<'a> {
    /// The bank's ID, or `platform`.
    pub bank: &'a str,
    /// What was done.
    pub operation: Operation,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The stable error code of a failure.
    pub error_code: Option<&'a str>,
    /// The console's figures it counts as (code accepted, lock, registration …).
    pub figures: &'a [Metric],
}

/// Tallies audited events (e.g. as Prometheus counters). Told only of committed entries.
pub trait EventCounter: Send + Sync + std::fmt::Debug {
    /// Counts one event.
    fn count(&self, event: &CountedEvent<'_>);
}

/// The store's observer, handing each committed entry to the counter.
#[derive(Debug)]
pub(crate) struct Counting(pub(crate) Arc<dyn EventCounter>);

impl AuditObserver for Counting {
    fn committed(&self, event: &NewAuditEvent) {
        let figures = metrics_of(event.operation, event.outcome, event.details.as_ref());
        self.0.count(&CountedEvent {
            bank: &event.tenant_id,
            operation: event.operation,
            outcome: event.outcome,
            error_code: event.error_code.as_deref(),
            figures: &figures,
        });
    }
}
