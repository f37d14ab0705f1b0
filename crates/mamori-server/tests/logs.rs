//! No secret, code, password or API key in logs: the real binary runs the flows at TRACE level
//! and its whole log output is searched.

use data_encoding::{BASE32_NOPAD, BASE64, HEXLOWER, HEXUPPER};
use mamori_testkit::{Mamori, http_request, shipped_tenant_configs};
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

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
    let created = MAMORI
        .command()
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
        .arg(shipped_tenant_configs())
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

    // At TRACE, in JSON, with everything it logs captured.
    let server = MAMORI
        .serve()
        .work_dir(work.path())
        .database_url(&database_url)
        .env("MAMORI_LOG", "trace")
        .env("MAMORI_LOG_FORMAT", "json")
        .start();
    let port = server.port();
    let auth = format!("Bearer {key}");
    let mut request_ids = Vec::new();
    let mut sent_codes = Vec::new();
    // One request with the bank's key and our own `X-Request-Id`.
    let mut call = |method: &str, path: &str, body: Option<Value>, name: &str| {
        let request_id = format!("logs-{name}-{}", request_ids.len());
        let headers = [
            ("Authorization", auth.as_str()),
            ("X-Request-Id", &request_id),
        ];
        let resp = http_request(port, method, path, &headers, body.as_ref());
        assert_eq!(resp.header("x-request-id"), Some(request_id.as_str()));
        request_ids.push(request_id);
        resp
    };

    let provisioned = call(
        "POST",
        "/v1/token/credentials",
        Some(json!({})),
        "provision",
    );
    assert_eq!(provisioned.status, 201, "{}", provisioned.text());
    let credential_id = provisioned.json()["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_text = provisioned.json()["secret"].as_str().unwrap().to_owned();
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
    assert_eq!(user.status, 201, "{}", user.text());
    let user = user.json()["id"].as_str().unwrap().to_owned();

    let code = totp.generate_current().unwrap();
    sent_codes.push(code.clone());
    let reg = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/credential"),
        Some(json!({ "credential_id": credential_id, "otp": code })),
        "register",
    );
    assert_eq!(reg.status, 201, "{}", reg.text());

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
    assert_eq!(failed.status, 422, "{}", failed.text());

    // The next step's code is within the window and not yet spent.
    let right = totp.generate(next_step);
    sent_codes.push(right.clone());
    let login = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/otp/verify"),
        Some(json!({ "otp": right })),
        "verify-right",
    );
    assert_eq!(login.status, 200, "{}", login.text());

    // The password login: a wrong password, the right one, and a forced change.
    let wrong_password = call(
        "POST",
        "/v1/banks/jonan-shinkin/logins",
        Some(json!({ "contract_number": "1234001", "password": "Wrongpass99" })),
        "login-wrong-password",
    );
    assert_eq!(wrong_password.status, 401, "{}", wrong_password.text());
    let started = call(
        "POST",
        "/v1/banks/jonan-shinkin/logins",
        Some(json!({ "contract_number": "1234001", "password": "Logpass2026" })),
        "login-password",
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let login_id = started.json()["login_id"].as_str().unwrap().to_owned();
    let changed = call(
        "POST",
        &format!("/v1/banks/jonan-shinkin/users/{user}/password"),
        Some(json!({ "login_id": login_id, "new_password": "Newpass2027" })),
        "change-password",
    );
    assert_eq!(changed.status, 200, "{}", changed.text());

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
