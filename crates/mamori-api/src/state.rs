//! What every handler shares: the use cases ([`Services`], one field per area), the process's
//! metrics and the proxies whose forwarding headers are believed. Cloned into each API struct;
//! cloning is cheap.

use std::sync::Arc;

use mamori_service::Services;

use crate::client_addr::TrustedProxies;
use crate::metrics::Metrics;

/// What every API handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// The proxies (`--trusted-proxies`) whose `Forwarded` / `X-Forwarded-For` name the client;
    /// none by default: the TCP peer is the client.
    pub trusted_proxies: Arc<TrustedProxies>,
}

impl AppState {
    /// The state of an application that trusts no proxy.
    pub fn new(services: Services, metrics: Arc<Metrics>) -> Self {
        Self {
            services,
            metrics,
            trusted_proxies: Arc::new(TrustedProxies::default()),
        }
    }

    /// Believes the forwarding headers of these proxies.
    pub fn trusting(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }
}
