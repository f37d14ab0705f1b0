//! `mamori token activate` (seed 003) against a stand-in server speaking the activation
//! contract: the password goes only to the server, the bank's refusal is shown with its code
//! and the attempts left, and nothing is saved unless the server issued a credential.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use common::{CREDENTIAL, run, serve};
use mamori_crypto::DevicePublicKey;
use mamori_token::TokenError;
use serde_json::json;

#[tokio::test]
async fn an_activated_token_is_kept_with_its_bank() {
    let (server, seen) = serve(Arc::new(|_, _, _| {
        (
            201,
            json!({
                "service_id": "kitashin",
                "credential_id": CREDENTIAL,
                "secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                "otpauth_uri": "otpauth://totp/Mamori:MAMO12345678?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                "qr_svg": "<svg/>",
                "algorithm": "SHA1",
                "digits": 6,
                "period": 30,
            }),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.json");
    let (result, out, err) = run(
        &path,
        &[
            "activate",
            "--server",
            &server,
            "--service-id",
            "kitashin",
            "--user-id",
            "taro01",
            "--lang",
            "en",
        ],
        "kita2026\n",
    )
    .await;
    assert!(
        matches!(result, Ok(c) if c == ExitCode::SUCCESS),
        "{result:?} {err}"
    );
    assert!(
        out.contains("Activated. Credential ID: MAMO12345678 (kitashin)"),
        "{out}"
    );
    assert!(
        !out.contains("kita2026") && !out.contains("otpauth://"),
        "{out}"
    );

    let seen = seen.lock().unwrap().clone();
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/token/activations")
    );
    assert_eq!(request.body["service_id"], "kitashin");
    assert_eq!(request.body["user_id"], "taro01");
    assert_eq!(request.body["activation_password"], "kita2026");
    assert!(
        DevicePublicKey::parse(request.body["device_public_key"].as_str().unwrap()).is_ok(),
        "{:?}",
        request.body
    );

    let (result, listed, _) = run(&path, &["list", "--lang", "en"], "").await;
    assert!(result.is_ok());
    assert!(
        listed.contains("MAMO12345678")
            && listed.contains("kitashin")
            && listed.contains("device key: yes"),
        "{listed}"
    );
    let (result, code, _) = run(&path, &["code"], "").await;
    assert!(result.is_ok());
    assert!(code.starts_with("MAMO12345678  "), "{code}");
}

#[tokio::test]
async fn a_wrong_password_shows_the_banks_answer_and_saves_nothing() {
    let (server, _) = serve(Arc::new(|_, _, _| {
        (
            422,
            json!({
                "type": "urn:mamori:problem:activation_failed",
                "title": "Activation failed",
                "status": 422,
                "detail": "The service ID, user ID or activation password is wrong.",
                "code": "activation_failed",
                "request_id": "req_1",
                "attempts_left": 2,
            }),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.json");
    let (result, _, _) = run(
        &path,
        &[
            "activate",
            "--server",
            &server,
            "--service-id",
            "kitashin",
            "--user-id",
            "taro01",
            "--lang",
            "en",
        ],
        "wrong2026\n",
    )
    .await;
    let err = result.unwrap_err();
    assert!(matches!(err, TokenError::Client(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("activation password is wrong")
            && message.contains("[activation_failed]")
            && message.contains("(2 attempts left)"),
        "{message}"
    );
    assert!(!message.contains("wrong2026"), "{message}");
    assert!(!path.exists(), "nothing saved");
}

#[tokio::test]
async fn no_password_is_refused_before_calling_the_server() {
    let (server, seen) = serve(Arc::new(|_, _, _| (500, json!({})))).await;
    let dir = tempfile::tempdir().unwrap();
    let (result, _, _) = run(
        &dir.path().join("token.json"),
        &[
            "activate",
            "--server",
            &server,
            "--service-id",
            "kitashin",
            "--user-id",
            "taro01",
        ],
        "",
    )
    .await;
    assert!(matches!(result, Err(TokenError::Usage(_))), "{result:?}");
    assert!(seen.lock().unwrap().is_empty());
}
