//! The master key's life as an operator lives it, with the real binary: a node started where
//! the key file is not must refuse rather than make a key of its own; a rotated key re-seals
//! every record so the old key can go; derived values (webhook secrets) survive both.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mamori_testkit::{Mamori, http_get, http_request, shipped_tenant_configs};
use serde_json::json;
use totp_rs::{Algorithm, TOTP};

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

/// A bank that registers with one code.
const BANK: &str = "demo-shinkin";

/// `mamori <args>` in `dir` on `url`, with extra environment: success, stdout, stderr.
fn run(dir: &Path, url: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = MAMORI.command();
    cmd.current_dir(dir)
        .args(args)
        .args(["--database-url", url])
        .env("MAMORI_TENANT_CONFIGS", shipped_tenant_configs());
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `mamori serve` in `dir` that is expected to refuse: its standard error. A serve that does
/// start is stopped after a minute and fails the test.
fn refused_serve(dir: &Path, url: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = MAMORI.command();
    cmd.current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .env("MAMORI_TENANT_CONFIGS", shipped_tenant_configs())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve started instead of refusing:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    stderr
}

/// The id the binary logs for the key it loaded (`master key loaded key.id=…`).
fn loaded_key_id(logs: &str) -> String {
    let line = logs
        .lines()
        .find(|l| l.contains("master key loaded"))
        .unwrap_or_else(|| panic!("no key id logged:\n{logs}"));
    let at = line.find("key.id=").unwrap() + "key.id=".len();
    line[at..].split_whitespace().next().unwrap().to_owned()
}

/// Serve once in one directory (the key file is made there, a token sealed with it), then
/// start a node in another directory: it refuses, naming the file and the key id the records
/// need, creates no key and changes nothing; a wrong key refuses too; the right key by
/// `MAMORI_MASTER_KEY` starts. A fresh, empty database still creates the key on first start.
#[test]
fn a_node_without_the_key_refuses_to_start_on_sealed_records() {
    let first = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", first.path().display());
    let server = MAMORI
        .serve()
        .work_dir(first.path())
        .database_url(&url)
        .start();
    let provisioned = http_request(
        server.port(),
        "POST",
        "/v1/token/credentials",
        &[],
        Some(&json!({})),
    );
    assert_eq!(provisioned.status, 201, "{}", provisioned.text());
    let logs = server.stop();
    assert!(logs.contains("created a new master key file"), "{logs}");
    let key_id = loaded_key_id(&logs);
    let key_hex = std::fs::read_to_string(first.path().join("mamori.key")).unwrap();

    let stderr = refused_serve(elsewhere.path(), &url, &[]);
    assert!(
        stderr.contains("mamori.key does not exist")
            && stderr.contains("MAMORI_MASTER_KEY")
            && stderr.contains(&key_id)
            && stderr.contains("credentials"),
        "names the file, the variable, the key id and the records:\n{stderr}"
    );
    assert!(
        !elsewhere.path().join("mamori.key").exists(),
        "no key of its own was made"
    );

    let wrong = "00".repeat(32);
    let stderr = refused_serve(elsewhere.path(), &url, &[("MAMORI_MASTER_KEY", &wrong)]);
    assert!(
        stderr.contains("cannot open records") && stderr.contains(&key_id),
        "{stderr}"
    );
    let (ok, _, stderr) = run(
        elsewhere.path(),
        &url,
        &["keys", "rotate"],
        &[("MAMORI_MASTER_KEY", &wrong)],
    );
    assert!(
        !ok && stderr.contains("cannot open records"),
        "nor rotates the signing key: {stderr}"
    );

    let server = MAMORI
        .serve()
        .work_dir(elsewhere.path())
        .database_url(&url)
        .env("MAMORI_MASTER_KEY", key_hex.trim())
        .start();
    assert_eq!(
        http_get(server.port(), "/.well-known/jwks.json").status,
        200
    );
    let logs = server.stop();
    assert_eq!(loaded_key_id(&logs), key_id);
    assert!(!elsewhere.path().join("mamori.key").exists());
}

/// The real time: the server under test reads it too.
#[allow(clippy::disallowed_methods)] // the server reads the real clock; so must the phone
fn now_unix() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// A master-key rotation: the new key with the old one in `MAMORI_OLD_MASTER_KEYS`, then
/// `mamori keys reseal` (counts per table; a second run finds nothing), then a node with the
/// new key alone starts and the imported token's codes still verify. The bank's webhook
/// secret is the same under the old key, during and after the rotation.
#[test]
fn reseal_lets_the_old_master_key_go() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", dir.display());
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        30,
        b"reseal-test-secret-0001".to_vec(),
    );
    std::fs::write(
        dir.join("tokens.csv"),
        format!(
            "serial,secret,type,digits,period\nRSEL00000001,{},totp,6,30\n",
            totp.get_secret_base32()
        ),
    )
    .unwrap();
    let (ok, _, stderr) = run(dir, &url, &["credentials", "import", "tokens.csv"], &[]);
    assert!(ok, "{stderr}");
    let (ok, api_key, stderr) = run(dir, &url, &["api-keys", "create", "--tenant", BANK], &[]);
    assert!(ok, "{stderr}");
    let secret_args = ["webhooks", "secret", "--tenant", BANK];
    let (ok, webhook_secret, stderr) = run(dir, &url, &secret_args, &[]);
    assert!(ok, "{stderr}");

    let old = std::fs::read_to_string(dir.join("mamori.key")).unwrap();
    let new = "5a".repeat(32);
    let rotating = [
        ("MAMORI_MASTER_KEY", new.as_str()),
        ("MAMORI_OLD_MASTER_KEYS", old.trim()),
    ];
    let (ok, during, stderr) = run(dir, &url, &secret_args, &rotating);
    assert!(ok, "{stderr}");
    assert_eq!(
        during, webhook_secret,
        "a rotation changes no derived value"
    );

    let (ok, out, stderr) = run(dir, &url, &["keys", "reseal", "--batch", "1"], &rotating);
    assert!(ok, "{out}\n{stderr}");
    assert!(out.contains("credentials: 1 re-sealed"), "{out}");
    assert!(out.contains("key_roots: 1 re-sealed"), "{out}");
    assert!(out.contains("older master keys can be dropped"), "{out}");
    let (ok, again, stderr) = run(dir, &url, &["keys", "reseal"], &rotating);
    assert!(ok, "{stderr}");
    assert!(
        again.contains("credentials: 0 re-sealed"),
        "idempotent: {again}"
    );

    let only_new = [("MAMORI_MASTER_KEY", new.as_str())];
    let (ok, after, stderr) = run(dir, &url, &secret_args, &only_new);
    assert!(ok, "{stderr}");
    assert_eq!(after, webhook_secret);

    let server = MAMORI
        .serve()
        .work_dir(dir)
        .database_url(&url)
        .env("MAMORI_MASTER_KEY", &new)
        .start();
    let auth = format!("Bearer {api_key}");
    let call = |path: &str, body: serde_json::Value| {
        http_request(
            server.port(),
            "POST",
            &format!("/v1/banks/{BANK}{path}"),
            &[("authorization", &auth)],
            Some(&body),
        )
    };
    let created = call("/users", json!({ "contract_number": "5100001" }));
    assert_eq!(created.status, 201, "{}", created.text());
    let user = created.json()["id"].as_str().unwrap().to_owned();
    let registered = call(
        &format!("/users/{user}/credential"),
        json!({ "credential_id": "RSEL00000001", "otp": totp.generate(now_unix()) }),
    );
    assert_eq!(
        registered.status,
        201,
        "the token's secret opens with the new key alone: {}",
        registered.text()
    );
    server.stop();
}
