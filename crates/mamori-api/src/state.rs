//! What every handler shares: the use cases ([`Services`], one field per area) and the process's
//! metrics. Cloned into each API struct; cloning is cheap.

use std::sync::Arc;

use mamori_service::Services;

use crate::metrics::Metrics;

/// What every API handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
}
