//! A stand-in Mamori server for the token's tests, and the token run in-process over a fixed
//! clock and a scripted console.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use clap::Parser;
use mamori_crypto::DeviceKeyPair;
use mamori_domain::FixedClock;
use mamori_token::file::{self, StoredCredential, TokenFile};
use mamori_token::{Console, TokenArgs, TokenError};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The fixed time the token's clock reads (a step boundary) is this plus five seconds.
pub const NOW: i64 = 1_795_339_800;
/// The credential in the token file.
pub const CREDENTIAL: &str = "MAMO12345678";

/// How the stand-in answers: (method, path, body) → (status, JSON body).
pub type Responder = Arc<dyn Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync>;

#[derive(Debug, Parser)]
pub struct Cli {
    #[command(flatten)]
    token: TokenArgs,
}

/// A request the stand-in server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A server on a free loopback port answering every request with `respond`; returns its URL
/// and the requests it received.
pub async fn serve(respond: Responder) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let path = parts.next().unwrap_or("").to_owned();
            let mut headers = Vec::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).await.unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).await.unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, reply) = respond(&method, &path, &body);
            log.lock().unwrap().push(Seen {
                method,
                path,
                headers,
                body,
            });
            let reply = reply.to_string();
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                if status < 400 {
                    "application/json"
                } else {
                    "application/problem+json"
                },
                reply.len()
            );
            write.write_all(response.as_bytes()).await.unwrap();
            write.shutdown().await.unwrap();
        }
    });
    (format!("http://{addr}"), seen)
}

pub fn token_file(dir: &Path, server: &str, device: &DeviceKeyPair) -> PathBuf {
    let path = dir.join("token.json");
    file::save(
        &path,
        &TokenFile {
            version: file::FILE_VERSION,
            credentials: vec![StoredCredential {
                credential_id: CREDENTIAL.into(),
                server: server.into(),
                label: None,
                service_id: None,
                secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
                algorithm: "SHA1".into(),
                digits: 6,
                period: 30,
                device_key_seed: Some(device.seed_base64()),
                created_at: DateTime::from_timestamp(NOW, 0).unwrap(),
            }],
        },
    )
    .unwrap();
    path
}

/// Runs `mamori token <args>` with `input` on standard input; (result, output).
pub async fn run(
    path: &Path,
    args: &[&str],
    input: &str,
) -> (Result<ExitCode, TokenError>, String, String) {
    let mut argv = vec!["token", "--file", path.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    let clock = FixedClock::new(DateTime::from_timestamp(NOW + 5, 0).unwrap());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = input.as_bytes();
    let result = {
        let mut console = Console {
            out: &mut out,
            err: &mut err,
            input: &mut input,
            interactive: false,
        };
        mamori_token::run(cli.token, &clock, &mut console).await
    };
    (
        result,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// The push contract: every GET lists `listing`; every POST answers with the decision taken.
pub async fn push_server(listing: Value) -> (String, Arc<Mutex<Vec<Seen>>>) {
    serve(Arc::new(move |method, _path, body| {
        if method == "GET" {
            return (200, listing.clone());
        }
        let status = if body["decision"] == "approve" {
            "approved"
        } else {
            "denied"
        };
        (200, json!({ "approval_id": "pa_1", "status": status }))
    }))
    .await
}
