//! provisionCredential: a working token for any RFC 6238 app, its secret shown once, and a
//! per-address limit shared by all nodes (it lives in the database).

use chrono::Duration;
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde_json::json;

async fn a_provisioned_token_is_a_standard_totp_token(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let answer = app
        .call("POST", "/v1/token/credentials", None, Some(json!({})))
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let body = &answer.body;
    let id = body["credential_id"].as_str().unwrap();
    assert!(id.starts_with("MAMO") && id.len() == 12, "{id}");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("otpauth://totp/Mamori:{id}?")),
        "{uri}"
    );
    for part in [
        "issuer=Mamori",
        "algorithm=SHA1",
        "digits=6",
        "period=30",
        &format!("secret={}", body["secret"].as_str().unwrap()),
    ] {
        assert!(uri.contains(part), "{uri} lacks {part}");
    }
    assert_eq!(
        body["secret"].as_str().unwrap().len(),
        32,
        "160-bit secret in base32"
    );
    assert!(
        body["qr_svg"].as_str().unwrap().starts_with("<?xml")
            || body["qr_svg"].as_str().unwrap().contains("<svg")
    );
    // Two provisionings never share an ID or a secret.
    let other = app
        .call("POST", "/v1/token/credentials", None, Some(json!({})))
        .await;
    assert_ne!(other.body["credential_id"], body["credential_id"]);
    assert_ne!(other.body["secret"], body["secret"]);
}
on_both_engines!(a_provisioned_token_is_a_standard_totp_token);

async fn provisioning_is_rate_limited_per_address(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    for i in 0..20 {
        let answer = app
            .call("POST", "/v1/token/credentials", None, Some(json!({})))
            .await;
        assert_eq!(answer.status, 201, "request {i}: {:?}", answer.body);
    }
    let limited = app
        .call("POST", "/v1/token/credentials", None, Some(json!({})))
        .await;
    assert_eq!(
        (limited.status, limited.code()),
        (429, Some("rate_limited")),
        "{:?}",
        limited.body
    );
    app.advance(Duration::hours(1));
    let again = app
        .call("POST", "/v1/token/credentials", None, Some(json!({})))
        .await;
    assert_eq!(again.status, 201, "a new window: {:?}", again.body);
}
on_both_engines!(provisioning_is_rate_limited_per_address);
