//! The application as tests see it: real routes, real database, fixed clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_api::AppState;
use mamori_api::metrics::Metrics;
use mamori_domain::FixedClock;
use mamori_service::Services;
use mamori_store::Database;
use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;

use crate::db::{TestDb, TestEngine};

/// A test's application.
pub struct TestApp {
    /// The test's own database (dropped with the app).
    pub test_db: TestDb,
    /// The store over it.
    pub db: Database,
    /// The clock the services read; move it instead of sleeping.
    pub clock: Arc<FixedClock>,
    /// The shared state handed to the API.
    pub state: AppState,
    /// An in-process HTTP client for the full application.
    pub client: TestClient<BoxEndpoint<'static, poem::Response>>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("test_db", &self.test_db)
            .finish_non_exhaustive()
    }
}

/// 2026-11-22T09:30:00Z, a fixed instant tests start at.
pub fn test_epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_339_800, 0).expect("valid timestamp")
}

impl TestApp {
    /// A migrated database on `engine` and the application over it.
    pub async fn new(engine: TestEngine) -> Self {
        let (test_db, db) = TestDb::migrated(engine).await;
        Self::over(test_db, db)
    }

    /// The application over an existing store.
    pub fn over(test_db: TestDb, db: Database) -> Self {
        let clock = Arc::new(FixedClock::new(test_epoch()));
        let state = AppState {
            services: Services::new(db.clone(), clock.clone()),
            metrics: Arc::new(Metrics::new()),
        };
        let endpoint = mamori_api::app(state.clone()).boxed();
        Self {
            test_db,
            db,
            clock,
            state,
            client: TestClient::new(endpoint),
        }
    }
}
