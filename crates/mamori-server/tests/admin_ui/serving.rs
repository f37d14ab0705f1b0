//! `mamori serve` serves the embedded console under /admin, behind the API's edge.

use mamori_testkit::{HttpResponse, TestDb, TestEngine, http_get, http_request, repo_root};

use crate::MAMORI;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assert_hardened(resp: &HttpResponse, what: &str) {
    assert_eq!(resp.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(
        resp.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        resp.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(resp.header("x-frame-options"), Some("DENY"), "{what}");
    assert!(
        resp.header("x-request-id").is_some(),
        "{what}: through the edge"
    );
}

fn assert_index(resp: &HttpResponse, what: &str) {
    assert_eq!(resp.status, 200, "{what}: {}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
    assert_eq!(resp.header("cache-control"), Some("no-cache"), "{what}");
    assert!(resp.text().contains(r#"<div id="app">"#), "{what}");
    assert_hardened(resp, what);
}

fn assert_problem(resp: &HttpResponse, status: u16, code: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}: {}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["code"], code, "{what}: {body}");
    assert_eq!(body["status"], status, "{what}: {body}");
    assert_eq!(
        body["request_id"].as_str(),
        resp.header("x-request-id"),
        "{what}: {body}"
    );
}

/// The value of `attr="…"` in the first tag of `html` that contains `marker`.
fn attribute_after(html: &str, marker: &str, attr: &str) -> String {
    let tag_start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let tag = &html[tag_start..];
    let tag = &tag[..tag.find('>').unwrap()];
    let value = &tag[tag.find(&format!(r#"{attr}=""#)).unwrap() + attr.len() + 2..];
    value[..value.find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_console_is_served_under_admin() {
    let db = TestDb::create(TestEngine::Sqlite).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let server = MAMORI.serve().database_url(&url).start();
        let port = server.port();

        for path in ["/admin", "/admin/", "/admin/banks/x", "/admin/banks/x/"] {
            assert_index(&http_get(port, path), path);
        }
        let index = http_get(port, "/admin").text();

        // The bundle's own script and stylesheet, as the browser asks for them.
        let script = attribute_after(&index, "<script", "src");
        assert!(script.starts_with("/admin/assets/"), "{script}");
        let resp = http_get(port, &script);
        assert_eq!(resp.status, 200, "{script}");
        assert_eq!(
            resp.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            resp.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_hardened(&resp, &script);
        let on_disk = std::fs::read(
            repo_root()
                .join("web-admin/dist")
                .join(&script["/admin/".len()..]),
        )
        .unwrap();
        assert!(
            resp.body == on_disk,
            "{script}: the committed file is what is served"
        );

        let stylesheet = attribute_after(&index, r#"rel="stylesheet""#, "href");
        let resp = http_get(port, &stylesheet);
        assert_eq!(resp.status, 200, "{stylesheet}");
        assert_eq!(resp.header("content-type"), Some("text/css; charset=utf-8"));
        assert_eq!(
            resp.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );

        // A revalidation of index.html costs no body.
        let etag = http_get(port, "/admin/").header("etag").unwrap().to_owned();
        let resp = http_request(port, "GET", "/admin/", &[("If-None-Match", &etag)], None);
        assert_eq!(resp.status, 304);
        assert!(resp.body.is_empty());
        assert_hardened(&resp, "304");

        // Missing files are the API's 404 problem, in the caller's language.
        for path in [
            "/admin/assets/nope.js",
            "/admin/assets/nope",
            "/admin/nope.png",
        ] {
            let resp = http_request(port, "GET", path, &[("Accept-Language", "ja")], None);
            assert_problem(&resp, 404, "not_found", path);
            assert_hardened(&resp, path);
            let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            assert_eq!(
                body["detail"], "指定されたリソースは存在しません。",
                "{body}"
            );
        }
        let resp = http_request(port, "POST", "/admin/", &[], None);
        assert_problem(&resp, 405, "method_not_allowed", "POST /admin/");
        assert_eq!(resp.header("allow"), Some("GET, HEAD"));

        // The API around it is unchanged.
        assert_eq!(http_get(port, "/readyz").status, 200);
        assert_eq!(http_get(port, "/docs").status, 200);
        let resp = http_get(port, "/administrator");
        assert_problem(&resp, 404, "not_found", "/administrator");
        assert!(resp.header("content-security-policy").is_none());

        let logs = server.logs();
        assert!(
            logs.contains(&format!("Admin console on http://127.0.0.1:{port}/admin/")),
            "{logs}"
        );
    })
    .await
    .unwrap();
}
