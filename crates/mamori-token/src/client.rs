//! The Token API as the token calls it. Only the server the customer named is ever contacted.
//!
//! The contract (the server's `/v1/token/…` operations; errors are RFC 9457
//! `application/problem+json` with a stable `code`, `detail` in the `Accept-Language` sent):
//!
//! - `POST /v1/token/credentials` `{"device_public_key"}` → 201 `{"credential_id", "secret",
//!   "otpauth_uri", "qr_svg", "algorithm", "digits", "period"}` (provisionCredential)
//! - `POST /v1/token/activations` `{"service_id", "user_id", "activation_password",
//!   "device_public_key"}` → 201 `{"service_id", "credential_id", "secret", "otpauth_uri",
//!   "qr_svg", "algorithm", "digits", "period"}`; `activation_failed` (every failure: wrong
//!   details, or an issue expired, used, replaced or locked), `rate_limited`,
//!   `validation_failed`
//! - `POST /v1/token/credentials/:credential_id/banks` `{"otp"}` → 200 `{"credential_id",
//!   "banks": [{"bank_id", "bank_name": {"ja", "en"}, "status": "in_use"|"locked",
//!   "registered_at"}]}` (listCredentialBanks)
//! - `GET /v1/token/credentials/:credential_id/approvals?wait=N` with `Mamori-Device-Time`
//!   (Unix seconds) and `Mamori-Device-Signature` (Ed25519 over
//!   [`mamori_domain::push::listing_message`], base64url) → 200 `{"approvals": [...]}` (see
//!   [`crate::approval::Approval`]); `device_signature_invalid` (also for an unknown credential
//!   or one without a device key), `rate_limited`
//! - `POST /v1/token/approvals/:approval_id/answer` [`crate::approval::AnswerRequest`] → 200
//!   `{"approval_id", "status": "approved"|"denied"}`; `device_signature_invalid` (also for an
//!   unknown approval), `push_approval_expired`, `push_already_answered`,
//!   `push_transaction_mismatch`, `push_number_mismatch`, `rate_limited`

use std::fmt;
use std::time::Duration;

use mamori_domain::error_code::Lang;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::approval::{AnswerRequest, AnswerResult, Approvals, Bilingual};

/// The header carrying the device's signing time.
pub const DEVICE_TIME_HEADER: &str = "Mamori-Device-Time";
/// The header carrying the device's signature over the listing message.
pub const DEVICE_SIGNATURE_HEADER: &str = "Mamori-Device-Signature";

/// An RFC 9457 problem from the server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    #[serde(default)]
    pub status: u16,
    /// The stable error code.
    pub code: String,
    /// The explanation, in the language asked for.
    #[serde(default)]
    pub detail: String,
    /// Tries left, where that applies.
    #[serde(default)]
    pub attempts_left: Option<u32>,
    /// To quote to support.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused, with a problem.
    #[error("{}", describe(.problem, *.lang))]
    Problem {
        /// The problem.
        problem: Problem,
        /// The language to describe it in.
        lang: Lang,
    },
    /// The server could not be reached.
    #[error("cannot reach {server}: {reason}")]
    Unreachable {
        /// The server.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server answered something that is not this API.
    #[error("unexpected answer from {server}: {reason}")]
    Unexpected {
        /// The server.
        server: String,
        /// What was wrong.
        reason: String,
    },
    /// The server URL is not an http(s) URL.
    #[error("{0}: the server must be an http:// or https:// URL")]
    BadServer(String),
    /// Plain http to a server that is not this machine.
    #[error(
        "{0}: refusing plain http:// to a server that is not this machine (codes, passwords and \
         approvals would cross the network unencrypted); use https://"
    )]
    Cleartext(String),
}

impl ClientError {
    /// The problem's code, when the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Problem { problem, .. } => Some(&problem.code),
            _ => None,
        }
    }
}

fn describe(problem: &Problem, lang: Lang) -> String {
    let mut text = format!(
        "{} [{}]",
        crate::approval::clean(&problem.detail),
        problem.code
    );
    if let Some(left) = problem.attempts_left {
        text.push_str(&match lang {
            Lang::Ja => format!(" (残り {left} 回)"),
            Lang::En => format!(" ({left} attempts left)"),
        });
    }
    if let Some(id) = &problem.request_id {
        text.push_str(&format!(" request_id={}", crate::approval::clean(id)));
    }
    text
}

/// A new credential from the server (provisioning or activation).
#[derive(Clone, Deserialize)]
pub struct Issued {
    /// The bank, for an activation.
    #[serde(default)]
    pub service_id: Option<String>,
    /// クレデンシャルID.
    pub credential_id: String,
    /// Base32.
    pub secret: String,
    /// For other authenticator apps.
    pub otpauth_uri: String,
    /// HMAC algorithm.
    pub algorithm: String,
    /// Digits.
    pub digits: u8,
    /// Seconds.
    pub period: u32,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("service_id", &self.service_id)
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

/// One bank in the listing.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RegisteredBank {
    /// The bank's ID.
    pub bank_id: String,
    /// Its names.
    pub bank_name: Bilingual,
    /// `in_use` or `locked`.
    pub status: String,
    /// RFC 3339.
    pub registered_at: String,
}

/// Where a token is registered.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RegisteredBanks {
    /// The token.
    pub credential_id: String,
    /// The banks.
    pub banks: Vec<RegisteredBank>,
}

/// A client of one Mamori server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    lang: Lang,
}

impl Client {
    /// A client of `server` (`http://host:port` or `https://…`), asking for `lang` messages.
    pub fn new(server: &str, lang: Lang) -> Result<Self, ClientError> {
        let base = parse_server(server)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("mamori-token/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A redirect would re-send an activation password or a signed answer to another
            // host; the token talks to its own server only.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Unreachable {
                server: server.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self { http, base, lang })
    }

    /// provisionCredential with the device's public key.
    pub async fn provision(&self, device_public_key: &str) -> Result<Issued, ClientError> {
        let request = self
            .http
            .post(self.url(&["v1", "token", "credentials"]))
            .json(&serde_json::json!({ "device_public_key": device_public_key }));
        self.send(request, Duration::from_secs(30)).await
    }

    /// Activates a token the bank issued by mail.
    pub async fn activate(
        &self,
        service_id: &str,
        user_id: &str,
        activation_password: &str,
        device_public_key: &str,
    ) -> Result<Issued, ClientError> {
        let request = self
            .http
            .post(self.url(&["v1", "token", "activations"]))
            .json(&serde_json::json!({
                "service_id": service_id,
                "user_id": user_id,
                "activation_password": activation_password,
                "device_public_key": device_public_key,
            }));
        self.send(request, Duration::from_secs(30)).await
    }

    /// listCredentialBanks with a fresh code.
    pub async fn banks(
        &self,
        credential_id: &str,
        code: &str,
    ) -> Result<RegisteredBanks, ClientError> {
        let request = self
            .http
            .post(self.url(&["v1", "token", "credentials", credential_id, "banks"]))
            .json(&serde_json::json!({ "otp": code }));
        self.send(request, Duration::from_secs(30)).await
    }

    /// The pending approvals, waiting up to `wait_seconds` for one to arrive.
    pub async fn approvals(
        &self,
        credential_id: &str,
        device_time: i64,
        signature: &str,
        wait_seconds: u32,
    ) -> Result<Approvals, ClientError> {
        let mut url = self.url(&["v1", "token", "credentials", credential_id, "approvals"]);
        url.query_pairs_mut()
            .append_pair("wait", &wait_seconds.to_string());
        let request = self
            .http
            .get(url)
            .header(DEVICE_TIME_HEADER, device_time.to_string())
            .header(DEVICE_SIGNATURE_HEADER, signature);
        // The server holds the request up to `wait` seconds; allow for that and the network.
        self.send(request, Duration::from_secs(u64::from(wait_seconds) + 30))
            .await
    }

    /// Sends a signed answer.
    pub async fn answer(
        &self,
        approval_id: &str,
        answer: &AnswerRequest,
    ) -> Result<AnswerResult, ClientError> {
        let request = self
            .http
            .post(self.url(&["v1", "token", "approvals", approval_id, "answer"]))
            .json(answer);
        self.send(request, Duration::from_secs(30)).await
    }

    /// `segments` appended to the server's base path, each percent-encoded, so an ID from
    /// the server can never change the path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments.iter().map(|s| {
                if matches!(*s, "" | "." | "..") {
                    "_"
                } else {
                    s
                }
            }));
        }
        url
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let server = self.base.as_str().trim_end_matches('/').to_owned();
        let lang = match self.lang {
            Lang::Ja => "ja",
            Lang::En => "en",
        };
        let response = request
            .header(reqwest::header::ACCEPT_LANGUAGE, lang)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                server: server.clone(),
                reason: error_chain(&e),
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                server: server.clone(),
                reason: error_chain(&e),
            })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Unexpected {
                server,
                reason: format!("HTTP {status}: {e}"),
            });
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(mut problem) => {
                if problem.status == 0 {
                    problem.status = status.as_u16();
                }
                Err(ClientError::Problem {
                    problem,
                    lang: self.lang,
                })
            }
            Err(_) => Err(ClientError::Unexpected {
                server,
                reason: format!("HTTP {status} without a problem body"),
            }),
        }
    }
}

/// Checks and normalises a server URL given by the customer (or stored in the token file):
/// https, or plain http to this machine only.
pub fn parse_server(server: &str) -> Result<Url, ClientError> {
    let url = Url::parse(server.trim()).map_err(|_| ClientError::BadServer(server.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ClientError::BadServer(server.to_owned()));
    }
    if url.scheme() == "http" && !is_this_machine(&url) {
        return Err(ClientError::Cleartext(server.to_owned()));
    }
    Ok(url)
}

/// The server URL as stored: no trailing slash.
pub fn normalise_server(server: &str) -> Result<String, ClientError> {
    Ok(parse_server(server)?
        .as_str()
        .trim_end_matches('/')
        .to_owned())
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1. A name that only
/// looks local (`localhost.example`, `127.0.0.1.example`) is not.
fn is_this_machine(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked_and_normalised() {
        assert_eq!(
            normalise_server("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalise_server("https://mamori.example/base/").unwrap(),
            "https://mamori.example/base"
        );
        for bad in [
            "127.0.0.1:8080",
            "ftp://x",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(normalise_server(bad).is_err(), "{bad}");
        }
        for local in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://localhost:8080",
            "http://LocalHost",
            "http://[::1]:8080",
            "https://mamori.example",
            "https://10.0.0.5",
        ] {
            assert!(normalise_server(local).is_ok(), "{local}");
        }
        for remote in [
            "http://mamori.example",
            "http://10.0.0.5:8080",
            "http://0.0.0.0:8080",
            "http://localhost.mamori.example",
            "http://127.0.0.1.mamori.example",
            "http://[2001:db8::1]",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert!(
                matches!(normalise_server(remote), Err(ClientError::Cleartext(_))),
                "{remote}"
            );
        }
    }

    #[test]
    fn ids_cannot_change_the_path() {
        let client = Client::new("https://mamori.example/base", Lang::En).unwrap();
        assert_eq!(
            client
                .url(&["v1", "token", "approvals", "../../admin", "answer"])
                .as_str(),
            "https://mamori.example/base/v1/token/approvals/..%2F..%2Fadmin/answer"
        );
        assert_eq!(
            client.url(&["v1", "..", "x"]).as_str(),
            "https://mamori.example/base/v1/_/x"
        );
    }

    #[test]
    fn problems_read_with_code_detail_and_attempts_left() {
        let problem: Problem = serde_json::from_str(
            r#"{"type":"urn:mamori:problem:activation_failed","title":"Activation failed","status":422,
                "detail":"The activation password is wrong.","code":"activation_failed",
                "request_id":"req_1","attempts_left":2}"#,
        )
        .unwrap();
        let en = ClientError::Problem {
            problem: problem.clone(),
            lang: Lang::En,
        };
        assert_eq!(
            en.to_string(),
            "The activation password is wrong. [activation_failed] (2 attempts left) request_id=req_1"
        );
        assert_eq!(en.code(), Some("activation_failed"));
        let ja = ClientError::Problem {
            problem,
            lang: Lang::Ja,
        };
        assert!(ja.to_string().contains("(残り 2 回)"), "{ja}");
    }
}
