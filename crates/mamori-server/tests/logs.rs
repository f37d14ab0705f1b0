//! No secret, code, password or API key in logs: the real binary runs the flows at TRACE level
//! and its whole log output is searched.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use data_encoding::{BASE32_NOPAD, BASE64, HEXLOWER, HEXUPPER};
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

fn mamori() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mamori"));
    cmd.env_remove("MAMORI_DATABASE_URL")
        .env_remove("MAMORI_TENANT_CONFIGS")
        .env_remove("MAMORI_LISTEN")
        .env_remove("MAMORI_MASTER_KEY")
        .env_remove("MAMORI_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .env("MAMORI_LOG", "info");
    cmd
}

fn shipped_configs() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tenant-configs"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `mamori serve` at TRACE level whose log output goes to a file (a pipe would fill up at TRACE).
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(work: &Path, database_url: &str, port: u16) -> Self {
        let log = work.join("server.log");
        let child = mamori()
            .current_dir(work)
            .env("MAMORI_LOG", "trace")
            .env("MAMORI_LOG_FORMAT", "json")
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                database_url,
                "--tenant-configs",
            ])
            .arg(shipped_configs())
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        let server = Self { child, log };
        server.wait_ready(port);
        server
    }

    fn wait_ready(&self, port: u16) {
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/readyz", None, None, "ready-check").status == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "server did not become ready on port {port}:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// SIGTERM, wait for a clean exit, return everything it logged.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let logs = std::fs::read_to_string(&self.log).unwrap();
        assert!(exit.success(), "exit after SIGTERM: {exit:?}\n{logs}");
        logs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    request_id: Option<String>,
    body: Value,
}

/// One HTTP/1.1 request over a fresh connection, with our own `X-Request-Id`.
fn http(
    port: u16,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
    request_id: &str,
) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         X-Request-Id: {request_id}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(key) = key {
        head.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let request_id = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-request-id")
            .then(|| value.trim().to_owned())
    });
    Reply {
        status,
        request_id,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// The log text to search for codes: each JSON line without its timestamp and without float
/// fields (durations), whose fractional digits could look like a six-digit code.
fn searchable(logs: &str) -> String {
    fn scrub(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("timestamp");
                map.retain(|_, v| !v.is_f64());
                map.values_mut().for_each(scrub);
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    logs.lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(mut value) => {
                scrub(&mut value);
                value.to_string()
            }
            Err(_) => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` occurs as a whole number (not inside a longer run of digits).
fn contains_number(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Provisioning, user creation, registration with a real code, a wrong and a right login at
/// TRACE level: the log holds every request ID but no token secret (base32, hex, base64), no
/// code that was sent, and neither the API key nor its secret part.
#[test]
fn trace_logs_hold_no_secret_code_or_api_key() {
    let work = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/mamori.db?mode=rwc", work.path().display());

    // The operator makes the bank's key before the first start (banks applied from the configs).
    let created = mamori()
        .current_dir(work.path())
        .args([
            "api-keys",
            "create",
            "--tenant",
            "jonan-shinkin",
            "--database-url",
            &database_url,
            "--tenant-configs",
        ])
        .arg(shipped_configs())
        .output()
        .unwrap();
    let cli_err = String::from_utf8_lossy(&created.stderr).into_owned();
    assert!(created.status.success(), "{cli_err}");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("mmr_"), "{key}");
    let key_secret = key.rsplit('_').next().unwrap().to_owned();
    assert!(key_secret.len() >= 16, "{key}");
    assert!(
        !cli_err.contains(&key_secret),
        "the CLI logs the key: {cli_err}"
    );

    let port = free_port();
    let server = Server::start(work.path(), &database_url, port);
    let mut request_ids = Vec::new();
    let mut sent_codes = Vec::new();
    let mut call = |method: &str, path: &str, body: Option<Value>, name: &str| {
        let request_id = format!("logs-{name}-{}", request_ids.len());
        let reply = http(port, method, path, Some(&key), body.as_ref(), &request_id);
        assert_eq!(reply.request_id.as_deref(), Some(request_id.as_str()));
        request_ids.push(request_id);
        reply
    };

    let provisioned = call(
        "POST",
        "/v1/token/credentials",
        Some(json!({})),
        "provision",
    );
    assert_eq!(provisioned.status, 201, "{:?}", provisioned.body);
    let credential_id = provisioned.body["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_text = provisioned.body["secret"].as_str().unwrap().to_owned();
    let secret = BASE32_NOPAD
        .decode(secret_text.trim_end_matches('=').as_bytes())
        .unwrap();
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, secret.clone());

    let user = call(
        "POST",
        "/v1/banks/jonan-shinkin/users",
        Some(
            json!({ "contract_number": "1234001", "display_name": "ログ 確認", "initial_password": "Logpass2026" }),
        ),
        "create-user",
    );
    assert_eq!(user.status, 201, "{:?}", user.body);
    let user = user.body["id"].as_str().unwrap().to_owned();

    let code = totp.generate_current().unwrap();
    sent_codes.push(code.clone());
    let reg = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/credential"),
        Some(json!({ "credential_id": credential_id, "otp": code })),
        "register",
    );
    assert_eq!(reg.status, 201, "{:?}", reg.body);

    // A wrong code: none of the token's codes around now.
    let next_step = totp.next_step_current().unwrap();
    let near: Vec<String> = (0..6)
        .map(|i| totp.generate(next_step + i * 30 - 90))
        .collect();
    let wrong = (1..)
        .map(|n: u32| format!("{:06}", (n * 137_731) % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap();
    sent_codes.push(wrong.clone());
    let failed = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/otp/verify"),
        Some(json!({ "otp": wrong })),
        "verify-wrong",
    );
    assert_eq!(failed.status, 422, "{:?}", failed.body);

    // The next step's code is within the window and not yet spent.
    let right = totp.generate(next_step);
    sent_codes.push(right.clone());
    let login = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/otp/verify"),
        Some(json!({ "otp": right })),
        "verify-right",
    );
    assert_eq!(login.status, 200, "{:?}", login.body);

    // The password login: a wrong password, the right one, and a forced change.
    let wrong_password = call(
        "POST",
        "/v1/banks/jonan-shinkin/logins",
        Some(json!({ "contract_number": "1234001", "password": "Wrongpass99" })),
        "login-wrong-password",
    );
    assert_eq!(wrong_password.status, 401, "{:?}", wrong_password.body);
    let started = call(
        "POST",
        "/v1/banks/jonan-shinkin/logins",
        Some(json!({ "contract_number": "1234001", "password": "Logpass2026" })),
        "login-password",
    );
    assert_eq!(started.status, 200, "{:?}", started.body);
    let login_id = started.body["login_id"].as_str().unwrap().to_owned();
    let changed = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/password"),
        Some(json!({ "login_id": login_id, "new_password": "Newpass2027" })),
        "change-password",
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);

    let logs = server.stop();

    // The capture is the server's real log, with every request in it.
    // TRACE really was on: the service's debug events of the code and password checks are there.
    for event in ["settling a code check", "password accepted"] {
        assert!(logs.contains(event), "{event:?} not logged at TRACE");
    }
    for request_id in &request_ids {
        assert!(
            logs.contains(request_id.as_str()),
            "{request_id} not logged"
        );
    }

    let forms = [
        ("secret (base32)", secret_text.clone()),
        ("secret (lowercase base32)", secret_text.to_lowercase()),
        ("secret (lowercase hex)", HEXLOWER.encode(&secret)),
        ("secret (uppercase hex)", HEXUPPER.encode(&secret)),
        ("secret (base64)", BASE64.encode(&secret)),
        ("API key", key.clone()),
        ("initial password", "Logpass2026".to_owned()),
        ("wrong password", "Wrongpass99".to_owned()),
        ("new password", "Newpass2027".to_owned()),
        ("API key secret", key_secret.clone()),
        ("API key secret (uppercase)", key_secret.to_uppercase()),
    ];
    for (what, text) in &forms {
        assert!(!logs.contains(text.as_str()), "the log contains the {what}");
    }
    let scrubbed = searchable(&logs);
    for code in &sent_codes {
        assert!(
            !contains_number(&scrubbed, code),
            "the log contains the code {code}: {}",
            scrubbed
                .lines()
                .filter(|l| contains_number(l, code))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
