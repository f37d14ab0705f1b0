//! `mamori openapi`: the API spec (JSON) on standard output, as committed under `openapi/`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use mamori_api::AppState;
use mamori_api::metrics::Metrics;
use mamori_domain::SystemClock;
use mamori_service::Services;
use mamori_store::Database;

use crate::common::ephemeral_keyring;

/// Prints the spec.
pub async fn run() -> anyhow::Result<ExitCode> {
    // The spec is generated from the code; the services behind it are never called.
    let db = Database::connect("sqlite::memory:").await?;
    let state = AppState::new(
        Services::builder(db, Arc::new(SystemClock), ephemeral_keyring()?).build(),
        Arc::new(Metrics::new()),
    );
    std::io::stdout().write_all(mamori_api::spec_json(state).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
