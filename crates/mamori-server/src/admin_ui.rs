//! The admin console: the built single-page app (`web-admin/dist`), embedded in the binary so
//! that running Mamori never needs Node, and served under [`ADMIN_UI_PATH`].
//!
//! - `/admin`, `/admin/` and any `/admin/<path>` without a file extension (a client route,
//!   e.g. `/admin/banks/x`) answer `index.html`, `Cache-Control: no-cache`;
//! - `/admin/assets/<file>` answers the content-hashed file, cached for a year (`immutable`);
//! - any other file of the bundle (`favicon.svg`) answers with `no-cache`;
//! - a missing file answers the API's usual `404` problem (`application/problem+json`).
//!
//! Every answer, the problems included, carries a strict Content-Security-Policy: the bundle
//! has no inline script or style and loads nothing from another origin.

use mamori_api::ADMIN_UI_PATH;
use mamori_api::context::RequestContext;
use mamori_api::problem::Problem;
use mamori_domain::ErrorCode;
use poem::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, Request, Response};
use rust_embed::RustEmbed;

/// The bundle, built by `npm --prefix web-admin run build` and committed. `debug-embed` makes
/// debug builds embed it too, so tests serve exactly what a release serves.
#[derive(RustEmbed)]
#[folder = "../../web-admin/dist"]
struct Bundle;

/// What every admin console response allows the browser to do.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
base-uri 'none'; form-action 'self'";

/// `Cache-Control` of content-hashed assets: their name changes whenever their bytes do.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of `index.html` and other unhashed files: always revalidate.
const REVALIDATE: &str = "no-cache";

const INDEX: &str = "index.html";
const ASSETS_DIR: &str = "assets/";

/// The endpoint serving the embedded console. It expects the full request path (mounted with
/// [`mamori_api::app_with_admin_ui`], which does not strip [`ADMIN_UI_PATH`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct AdminUi;

impl AdminUi {
    /// The URL of the console on a server listening at `listen` (`host:port`).
    pub fn url(listen: &str) -> String {
        format!("http://{listen}{ADMIN_UI_PATH}/")
    }

    fn answer(req: &Request) -> Response {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            let mut resp = problem(req, ErrorCode::MethodNotAllowed);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
        let path = req.uri().path();
        let rest = path
            .strip_prefix(ADMIN_UI_PATH)
            .map(|rest| rest.trim_start_matches('/'))
            .unwrap_or(path);
        let (file, cache) = if rest.is_empty() {
            (INDEX, REVALIDATE)
        } else if rest.starts_with(ASSETS_DIR) {
            (rest, IMMUTABLE)
        } else if has_extension(rest) {
            (rest, REVALIDATE)
        } else {
            // A client route: the app's router shows the page (or its own 404 page).
            (INDEX, REVALIDATE)
        };
        match Bundle::get(file) {
            Some(embedded) => {
                let etag = etag(&embedded.metadata.sha256_hash());
                if if_none_match(req.headers(), &etag) {
                    return Response::builder()
                        .status(StatusCode::NOT_MODIFIED)
                        .header(header::ETAG, etag)
                        .header(header::CACHE_CONTROL, cache)
                        .finish();
                }
                Response::builder()
                    .content_type(content_type(file))
                    .header(header::CACHE_CONTROL, cache)
                    .header(header::ETAG, etag)
                    .body(embedded.data.into_owned())
            }
            None => problem(req, ErrorCode::NotFound),
        }
    }
}

impl Endpoint for AdminUi {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut resp = Self::answer(&req);
        let headers = resp.headers_mut();
        for (name, value) in [
            ("content-security-policy", CONTENT_SECURITY_POLICY),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        Ok(resp)
    }
}

/// The API's problem body for `code`, in the caller's language with the request's ID.
fn problem(req: &Request, code: ErrorCode) -> Response {
    Problem::new(code, &RequestContext::of(req)).into_response()
}

/// Whether the last path segment has a file extension (`app.js`), as client routes do not.
fn has_extension(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|segment| segment.contains('.'))
}

fn etag(sha256: &[u8; 32]) -> String {
    let hex: String = sha256[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

/// The media type of a bundle file, by extension.
fn content_type(file: &str) -> &'static str {
    let extension = file.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_has_an_index_and_hashed_assets() {
        assert!(Bundle::get(INDEX).is_some(), "web-admin/dist/index.html");
        assert!(
            Bundle::iter().any(|f| f.starts_with(ASSETS_DIR) && f.ends_with(".js")),
            "web-admin/dist/assets/*.js"
        );
    }

    #[test]
    fn client_routes_have_no_extension() {
        assert!(!has_extension("banks/x"));
        assert!(!has_extension("banks/x.y/z"));
        assert!(has_extension("favicon.svg"));
        assert!(has_extension("assets/index-abc.js"));
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type("assets/a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/a.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("a"), "application/octet-stream");
    }

    #[test]
    fn conditional_requests_match_the_etag() {
        let tag = etag(&[0xab; 32]);
        let mut headers = HeaderMap::new();
        assert!(!if_none_match(&headers, &tag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{tag}")).expect("header"),
        );
        assert!(if_none_match(&headers, &tag));
    }
}
