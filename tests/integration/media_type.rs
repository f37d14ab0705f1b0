//! Every operation that takes a JSON body answers a body sent as anything else, or sent without
//! a `Content-Type`, with the 415 problem `unsupported_media_type` — never the framework's bare
//! text — and the spec promises it (the referee checks each answer). The operations come from
//! the spec itself, so a new one is covered without a change here.

use mamori_testkit::{Answer, TestApp, TestEngine, on_both_engines};
use serde_json::Value;

use crate::support::assert_problem;

const BANK: &str = "jonan-shinkin";

/// The spec's path with the bank's ID for `{bank_id}` and a made-up ID for any other
/// parameter: the body is refused before any ID is looked up.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{bank_id}" => BANK,
            s if s.starts_with('{') => "id_1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `{}` with `content_type` (or none) and the caller's credentials.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    content_type: Option<&str>,
) -> Answer {
    let mut req = match method {
        "post" => app.client.post(path),
        "put" => app.client.put(path),
        "delete" => app.client.delete(path),
        "patch" => app.client.patch(path),
        other => panic!("a body with method {other}"),
    };
    for (name, value) in headers {
        req = req.header(*name, value.as_str());
    }
    if let Some(content_type) = content_type {
        req = req.content_type(content_type);
    }
    Answer::from_response(req.body("{}").send().await).await
}

async fn a_body_not_sent_as_json_is_a_415_problem(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let key = app.bank_key(BANK).await;
    let admin = app.first_admin().await;
    let spec: Value = serde_json::from_str(&mamori_api::spec_json(app.state.clone())).unwrap();
    let mut checked = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            let id = op["operationId"].as_str().unwrap();
            let scheme = op["security"][0]
                .as_object()
                .and_then(|s| s.keys().next().cloned());
            let headers: Vec<(&str, String)> = match scheme.as_deref() {
                None => Vec::new(),
                Some("BankKey") => vec![("authorization", format!("Bearer {key}"))],
                Some("AdminSession") => admin.session_headers().to_vec(),
                Some(other) => panic!("{id}: a security scheme this test does not know: {other}"),
            };
            for content_type in [
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                None,
            ] {
                let answer = send(&app, method, &concrete(path), &headers, content_type).await;
                assert_eq!(
                    (answer.status, answer.code()),
                    (415, Some("unsupported_media_type")),
                    "{id} with Content-Type {content_type:?}: {:?}",
                    answer.body
                );
                assert_problem(
                    415,
                    &answer.content_type,
                    &answer.body,
                    "unsupported_media_type",
                );
            }
            checked.push(id.to_owned());
        }
    }
    // The Bank, Login, Token and Admin APIs all take bodies; an empty list means the spec
    // was not read.
    for id in [
        "createUser",
        "startLogin",
        "activateToken",
        "createBank",
        "importTokens",
    ] {
        assert!(
            checked.iter().any(|c| c == id),
            "{id} not checked: {checked:?}"
        );
    }
}
on_both_engines!(a_body_not_sent_as_json_is_a_415_problem);
