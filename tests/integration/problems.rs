//! Every error, the framework's included, is an RFC 9457 problem with a stable code, localised
//! by Accept-Language.

use mamori_testkit::{TestApp, TestEngine, on_both_engines};

use crate::support::{assert_problem, json_body};

async fn unknown_routes_are_problems_in_both_languages(engine: TestEngine) {
    let app = TestApp::new(engine).await;

    let resp = app.client.get("/v1/nowhere").send().await;
    let (status, content_type, ja) = json_body(resp).await;
    assert_eq!(status, 404);
    assert_problem(status, &content_type, &ja, "not_found");

    let resp = app
        .client
        .get("/v1/nowhere")
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await;
    let (_, _, en) = json_body(resp).await;
    assert_eq!(en["code"], "not_found");
    assert_ne!(ja["detail"], en["detail"], "detail is localised");
    assert!(
        ja["detail"].as_str().unwrap().contains("存在しません"),
        "{ja}"
    );
    assert!(
        en["detail"].as_str().unwrap().contains("does not exist"),
        "{en}"
    );
}
on_both_engines!(unknown_routes_are_problems_in_both_languages);

async fn wrong_method_is_a_problem(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let resp = app.client.delete("/healthz").send().await;
    let (status, content_type, body) = json_body(resp).await;
    assert_eq!(status, 405);
    assert_problem(status, &content_type, &body, "method_not_allowed");
}
on_both_engines!(wrong_method_is_a_problem);

async fn oversized_and_duplicate_key_bodies_are_refused(engine: TestEngine) {
    let app = TestApp::new(engine).await;

    let huge = format!("{{\"code\":\"{}\"}}", "1".repeat(1024 * 1024));
    let resp = app
        .client
        .post("/healthz")
        .content_type("application/json")
        .body(huge)
        .send()
        .await;
    let (status, content_type, body) = json_body(resp).await;
    assert_eq!(status, 413);
    assert_problem(status, &content_type, &body, "payload_too_large");

    let resp = app
        .client
        .post("/healthz")
        .content_type("application/json")
        .body(r#"{"code":"111111","code":"222222"}"#)
        .send()
        .await;
    let (status, content_type, body) = json_body(resp).await;
    assert_eq!(status, 400);
    assert_problem(status, &content_type, &body, "bad_request");
    assert!(
        body["detail"].as_str().unwrap().contains("duplicate key"),
        "{body}"
    );
}
on_both_engines!(oversized_and_duplicate_key_bodies_are_refused);

/// A 405 names the methods the route takes (RFC 9110), and a target longer than any route
/// needs is a 414 problem, not the HTTP server's bare answer.
async fn wrong_method_names_the_allowed_ones_and_long_targets_are_problems(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    for (method, path, allow) in [
        ("DELETE", "/healthz".to_owned(), "GET, HEAD"),
        (
            "GET",
            format!("/v1/banks/{}/users/usr_x/otp/verify", bank.id),
            "POST",
        ),
        (
            "PUT",
            format!("/v1/banks/{}/users", bank.id),
            "GET, HEAD, POST",
        ),
        ("POST", "/metrics".to_owned(), "GET, HEAD"),
    ] {
        let answer = app.call(method, &path, Some(&bank.key), None).await;
        assert_eq!(answer.status, 405, "{method} {path}: {:?}", answer.body);
        assert_problem(
            405,
            &answer.content_type,
            &answer.body,
            "method_not_allowed",
        );
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }

    let long = format!(
        "/v1/banks/{}/users?contract_number={}",
        bank.id,
        "1".repeat(5000)
    );
    let answer = app.call("GET", &long, Some(&bank.key), None).await;
    assert_eq!(answer.status, 414, "{:?}", answer.body);
    assert_problem(414, &answer.content_type, &answer.body, "uri_too_long");
}
on_both_engines!(wrong_method_names_the_allowed_ones_and_long_targets_are_problems);
