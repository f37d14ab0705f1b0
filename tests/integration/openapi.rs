//! The committed spec is the banks' contract: it must match what the code generates.

use mamori_testkit::{TestApp, TestEngine};

#[tokio::test]
async fn committed_spec_is_fresh() {
    let app = TestApp::new(TestEngine::Sqlite).await;
    let generated = mamori_api::spec_json(app.state.clone());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/mamori.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/mamori.json is stale. Regenerate it with:\n\n    cargo run -q -p mamori-server -- openapi > openapi/mamori.json\n"
    );
}

#[tokio::test]
async fn spec_and_docs_are_served() {
    let app = TestApp::new(TestEngine::Sqlite).await;
    let resp = app.client.get("/openapi.json").send().await;
    resp.assert_status_is_ok();
    let spec: serde_json::Value = resp.0.into_body().into_json().await.unwrap();
    assert_eq!(spec["info"]["title"], "Mamori API");
    let codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    assert!(
        codes.iter().any(|c| c == "otp_already_used"),
        "error codes are listed in the spec"
    );

    let resp = app.client.get("/docs").send().await;
    resp.assert_status_is_ok();
    let html = resp.0.into_body().into_string().await.unwrap();
    assert!(html.contains("swagger"), "interactive docs page");
}

#[tokio::test]
async fn every_operation_has_a_stable_camel_case_id_and_a_summary() {
    let app = TestApp::new(TestEngine::Sqlite).await;
    let spec: serde_json::Value =
        serde_json::from_str(&mamori_api::spec_json(app.state.clone())).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.chars().next().unwrap().is_ascii_lowercase() && !id.contains('_'),
                "{id}"
            );
            assert!(seen.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id} has no summary"
            );
        }
    }
}
