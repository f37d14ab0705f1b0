//! The committed spec is the banks' contract: it must match what the code generates.

use mamori_api::problem::status_of;
use mamori_domain::ErrorCode;
use mamori_testkit::{TestApp, TestEngine};
use serde_json::Value;

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

/// The words between backticks.
fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// What each operation's responses promise, checked against the code's own tables: every code
/// a status's description names is answered with that status (a code under the wrong status
/// sends a bank's generated client down the wrong branch), every problem status names at
/// least one code, every operation lists what the edge answers for a request of its shape,
/// and every POST at a bank lists the answers of its `Idempotency-Key`.
#[tokio::test]
async fn every_operation_lists_the_answers_of_its_shape() {
    let app = TestApp::new(TestEngine::Sqlite).await;
    let spec: Value = serde_json::from_str(&mamori_api::spec_json(app.state.clone())).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let responses = op["responses"].as_object().unwrap();
            let description = |status: &str| {
                responses
                    .get(status)
                    .and_then(|r| r["description"].as_str())
                    .unwrap_or_default()
            };
            for (status, response) in responses {
                let status_code: u16 = status.parse().unwrap();
                if status_code < 400 {
                    continue;
                }
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{id}: {status} is not a problem"
                );
                let codes: Vec<ErrorCode> = backticked(description(status))
                    .filter_map(ErrorCode::parse)
                    .collect();
                assert!(!codes.is_empty(), "{id}: {status} names no code");
                for code in codes {
                    assert_eq!(
                        status_of(code).as_u16(),
                        status_code,
                        "{id}: `{}` is named under {status}",
                        code.as_str()
                    );
                }
            }
            let names =
                |status: &str, code: &str| backticked(description(status)).any(|c| c == code);
            assert!(names("414", "uri_too_long"), "{id}: no 414");
            if method != "get" {
                assert!(names("413", "payload_too_large"), "{id}: no 413");
            }
            if op.get("requestBody").is_some() {
                assert!(names("415", "unsupported_media_type"), "{id}: no 415");
            }
            if method == "post" && path.starts_with("/v1/banks/{bank_id}/") {
                assert!(
                    backticked(description("400")).any(|c| c == "Idempotency-Key"),
                    "{id}: the 400 does not mention a malformed Idempotency-Key"
                );
                assert!(names("409", "idempotency_key_in_use"), "{id}");
                assert!(names("422", "idempotency_key_reused"), "{id}");
            }
        }
    }
}
