//! Small helpers shared by the flows.

use poem::test::TestResponse;
use serde_json::Value;

/// The response body as JSON, with its content type.
pub async fn json_body(resp: TestResponse) -> (u16, String, Value) {
    let status = resp.0.status().as_u16();
    let content_type = resp
        .0
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp
        .0
        .into_body()
        .into_json::<Value>()
        .await
        .expect("JSON body");
    (status, content_type, body)
}

/// Asserts `body` is an RFC 9457 problem with `code` and `status`.
pub fn assert_problem(status: u16, content_type: &str, body: &Value, code: &str) {
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["type"], format!("urn:mamori:problem:{code}"), "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["request_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
}
