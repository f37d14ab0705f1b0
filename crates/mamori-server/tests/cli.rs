//! The `mamori` binary as an operator uses it: config checks, migrations, serving and shutting
//! down on SIGTERM.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::path::Path;
use std::time::Duration;

use mamori_testkit::{
    Mamori, SmtpSink, TestDb, TestEngine, http_get, http_request, shipped_tenant_configs,
};
use serde_json::json;

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

#[test]
fn tenants_check_lists_the_shipped_banks() {
    let out = MAMORI
        .command()
        .args(["tenants", "check", "--tenant-configs"])
        .arg(shipped_tenant_configs())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in [
        "demo-shinkin",
        "johoku-shinkin",
        "jonan-shinkin",
        "kitakyushu-bank",
        "kitashin",
        "shinkin-001",
    ] {
        assert!(stdout.contains(id), "{id} not listed:\n{stdout}");
    }
    assert!(stdout.contains("6 tenant config(s) OK"), "{stdout}");
}

#[test]
fn tenants_check_refuses_a_broken_file_naming_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&shipped_tenant_configs(), dir.path());
    let file = dir.path().join("johoku-shinkin.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = replace_key(&text, "otp", "digits", "\"six\"");
    std::fs::write(&file, broken).unwrap();

    let out = MAMORI
        .command()
        .args(["tenants", "check", "--tenant-configs"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains(r#"johoku-shinkin.toml: otp.digits: expected an integer 6..=8, found "six""#),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_to_start_on_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&shipped_tenant_configs(), dir.path());
    let file = dir.path().join("jonan-shinkin.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, replace_key(&text, "otp", "digits", "9")).unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let out = MAMORI
        .command()
        .current_dir(db_dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--tenant-configs"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("jonan-shinkin.toml: otp.digits: expected an integer 6..=8, found 9"),
        "{stderr}"
    );
    assert!(
        !db_dir.path().join("mamori.db").exists(),
        "nothing is created on a refused start"
    );
}

/// `--help` names the environment variables but never prints their values: a database or SMTP
/// URL carries a password, and help output ends up in terminals, tickets and CI logs. Every
/// subcommand's help is read, found by walking the help's own command lists.
#[test]
fn help_names_secret_env_vars_without_their_values() {
    const PASSWORD: &str = "s3cretPa55word";
    let database_url = format!("postgres://mamori:{PASSWORD}@db.internal:5432/mamori");
    let smtp_url = format!("smtp://mailer:{PASSWORD}@relay.internal:587?tls=required");
    let help = |path: &[String]| {
        let out = MAMORI
            .command()
            .args(path)
            .arg("--help")
            .env("MAMORI_DATABASE_URL", &database_url)
            .env("MAMORI_SMTP_URL", &smtp_url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{path:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    let mut read = 0;
    while let Some(path) = pending.pop() {
        let text = help(&path);
        read += 1;
        assert!(
            !text.contains(PASSWORD),
            "`mamori {} --help` prints a password:\n{text}",
            path.join(" ")
        );
        for sub in subcommands(&text) {
            pending.push(path.iter().cloned().chain([sub]).collect());
        }
    }
    assert!(read > 20, "only {read} help pages found");

    let serve = help(&["serve".to_owned()]);
    for name in ["MAMORI_DATABASE_URL", "MAMORI_SMTP_URL"] {
        assert!(
            serve.contains(&format!("[env: {name}")),
            "{name} not documented:\n{serve}"
        );
    }
    let migrate = help(&["migrate".to_owned()]);
    assert!(migrate.contains("[env: MAMORI_DATABASE_URL"), "{migrate}");
}

/// The subcommands a help page lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        // Names start two spaces in; wrapped descriptions are indented further.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The README's first command on a fresh machine: embedded SQLite in the working directory,
/// the shipped tenant configs, API docs served; SIGTERM stops it cleanly.
#[test]
fn serve_on_embedded_sqlite_then_sigterm() {
    let server = MAMORI.serve().start();
    let port = server.port();
    assert!(
        server.work_dir().join("mamori.db").exists(),
        "SQLite file created in the working directory"
    );
    let resp = http_get(port, "/openapi.json");
    assert_eq!(resp.status, 200);
    assert!(resp.text().contains("\"Mamori API\""));
    let resp = http_get(port, "/docs");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = http_get(port, "/metrics");
    assert_eq!(resp.status, 200);
    let body = resp.text();
    assert!(body.contains("mamori_http_requests_total"), "{body}");
    let logs = server.stop();
    assert_eq!(logs.matches("tenant config applied").count(), 6, "{logs}");
    assert!(logs.contains("Mamori stopped"), "graceful shutdown: {logs}");
}

/// Behind a load balancer (`--trusted-proxies`; here the test itself, on 127.0.0.1) every
/// client named in `X-Forwarded-For` has its own limits, over real TCP. Without the proxy in
/// the list the header is ignored, and a list that is not addresses refuses to start.
#[test]
fn serve_behind_trusted_proxies_limits_each_forwarded_client() {
    let provision = |port: u16, client: &str| {
        http_request(
            port,
            "POST",
            "/v1/token/credentials",
            &[("X-Forwarded-For", client)],
            Some(&json!({})),
        )
        .status
    };
    let trusting = MAMORI
        .serve()
        .env("MAMORI_TRUSTED_PROXIES", "127.0.0.0/8,::1")
        .start();
    let port = trusting.port();
    for n in 0..20 {
        assert_eq!(provision(port, "203.0.113.1"), 201, "token {n}");
    }
    assert_eq!(provision(port, "203.0.113.1"), 429);
    assert_eq!(provision(port, "198.51.100.7, 203.0.113.2"), 201);
    let logs = trusting.stop();
    assert!(
        logs.contains("trusted_proxies=127.0.0.0/8,::1/128"),
        "the proxies are named at start: {logs}"
    );

    let untrusting = MAMORI
        .serve()
        .args(["--trusted-proxies", "10.0.0.0/8"])
        .start();
    let port = untrusting.port();
    for n in 0..20 {
        assert_eq!(provision(port, &format!("203.0.113.{n}")), 201, "token {n}");
    }
    assert_eq!(
        provision(port, "203.0.113.99"),
        429,
        "a header from a peer not in the list is not believed"
    );
    untrusting.stop();

    // An empty setting (a deployment template's default) trusts no proxy.
    let empty = MAMORI.serve().env("MAMORI_TRUSTED_PROXIES", "").start();
    let logs = empty.stop();
    assert!(logs.contains("no trusted proxies"), "{logs}");

    let dir = tempfile::tempdir().unwrap();
    let out = MAMORI
        .command()
        .current_dir(dir.path())
        .args(["serve", "--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
}

/// The same binary on an empty PostgreSQL database migrates and serves.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_and_serve_on_postgres() {
    let test_db = TestDb::create(TestEngine::Postgres).await;
    let url = test_db.url.clone();
    let out = MAMORI
        .command()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    tokio::task::spawn_blocking(move || {
        // Its own working directory: serve creates the master key file there. Configured by
        // MAMORI_DATABASE_URL, MAMORI_LISTEN and MAMORI_TENANT_CONFIGS instead of flags.
        let server = MAMORI
            .serve()
            .database_url(&url)
            .settings_in_env()
            .env("MAMORI_LOG_FORMAT", "json")
            .start();
        assert_eq!(http_get(server.port(), "/readyz").status, 200);
        let logs = server.stop();
        let line = logs
            .lines()
            .find(|l| l.contains("request finished"))
            .expect("a request log line");
        let json: serde_json::Value = serde_json::from_str(line).expect("JSON log lines");
        assert!(
            json["request_id"].is_string() || json["span"]["request_id"].is_string(),
            "{line}"
        );
    })
    .await
    .unwrap();
}

/// Runs a command with `MAMORI_TENANT_CONFIGS` set (or not): success, stdout (trimmed), stderr.
fn run_with_configs(
    mut cmd: std::process::Command,
    configs: Option<&Path>,
) -> (bool, String, String) {
    if let Some(configs) = configs {
        cmd.env("MAMORI_TENANT_CONFIGS", configs);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Replaces `key = …` inside `[section]` of a TOML text.
fn replace_key(text: &str, section: &str, key: &str, value: &str) -> String {
    let mut in_section = false;
    let mut replaced = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                in_section = trimmed == format!("[{section}]");
            }
            if in_section && !replaced && trimmed.split('=').next().map(str::trim) == Some(key) {
                replaced = true;
                format!("{key} = {value}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(replaced, "[{section}] {key} not found");
    lines.join("\n") + "\n"
}

/// `mamori api-keys`: a key works for its bank only, is listed without its secret, and stops
/// working once revoked.
#[test]
fn api_keys_create_list_revoke() {
    let work = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", work.path().display());
    let run = |args: &[&str]| {
        let out = MAMORI
            .command()
            // `create` makes the key's MAC with the master key: the node's key file, there.
            .current_dir(work.path())
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_TENANT_CONFIGS", shipped_tenant_configs())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, key, stderr) = run(&[
        "api-keys",
        "create",
        "--tenant",
        "jonan-shinkin",
        "--label",
        "IB test",
    ]);
    assert!(ok, "{stderr}");
    assert!(key.starts_with("mmr_") && key.len() == 45, "{key}");
    assert!(stderr.contains("shown only now"), "{stderr}");

    let (ok, listing, _) = run(&["api-keys", "list", "--tenant", "jonan-shinkin"]);
    assert!(ok);
    assert!(
        listing.contains("IB test") && listing.contains("active"),
        "{listing}"
    );
    assert!(
        !listing.contains(&key[13..]),
        "the secret part is never listed: {listing}"
    );

    let (ok, _, stderr) = run(&["api-keys", "create", "--tenant", "no-such-bank"]);
    assert!(
        !ok && stderr.contains("no bank with id no-such-bank"),
        "{stderr}"
    );

    // Serve and use the key; then revoke it and see it refused.
    let server = MAMORI
        .serve()
        .work_dir(work.path())
        .database_url(&url)
        .start();
    let port = server.port();
    let get_with = |path: &str, key: &str| {
        let auth = format!("Bearer {key}");
        http_request(port, "GET", path, &[("Authorization", &auth)], None).status
    };
    let probe = |key: &str| get_with("/v1/banks/jonan-shinkin/audit-events", key);
    assert_eq!(probe(&key), 200);
    assert_eq!(
        get_with("/v1/banks/johoku-shinkin/audit-events", &key),
        404,
        "another bank's path"
    );
    let key_id = listing.split_whitespace().next().unwrap().to_owned();
    let (ok, _, stderr) = run(&["api-keys", "revoke", &key_id]);
    assert!(ok, "{stderr}");
    // Revoked in the database by another process: the node refuses it once its cached
    // entry (3 s) is gone; this waits at most 10 s for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while probe(&key) != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked key is refused"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.stop();
}

/// `mamori api-keys create` for a bank that is already in the database reads no tenant config:
/// run from a directory without `tenant-configs/` and without `MAMORI_TENANT_CONFIGS`, it
/// creates the key. A bank that is nowhere is still named in a clear refusal.
#[test]
fn api_keys_create_for_a_bank_in_the_database_needs_no_tenant_configs() {
    let work = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", work.path().display());
    let create = |bank: &str, configs: Option<&Path>| {
        let mut cmd = MAMORI.command();
        cmd.current_dir(elsewhere.path()).args([
            "api-keys",
            "create",
            "--tenant",
            bank,
            "--database-url",
            &url,
        ]);
        run_with_configs(cmd, configs)
    };
    // Before the first `serve`, the configs declare the bank.
    let (ok, _, stderr) = create("jonan-shinkin", Some(&shipped_tenant_configs()));
    assert!(ok, "{stderr}");

    let (ok, key, stderr) = create("jonan-shinkin", None);
    assert!(ok, "{stderr}");
    assert!(key.starts_with("mmr_") && key.len() == 45, "{key}");
    // A config directory that cannot be read does not matter for a bank in the database.
    let (ok, _, stderr) = create("jonan-shinkin", Some(&elsewhere.path().join("missing")));
    assert!(ok, "{stderr}");

    let (ok, _, stderr) = create("no-such-bank", None);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("no bank with id no-such-bank"), "{stderr}");
    assert!(
        stderr.contains("--tenant-configs"),
        "says how to declare it: {stderr}"
    );
}

/// `webhooks secret`, like `api-keys create`, reads no tenant configs for a bank the database
/// already has: run from another directory it used to fail on the missing `tenant-configs/`.
#[test]
fn webhooks_secret_for_a_bank_in_the_database_needs_no_tenant_configs() {
    let work = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", work.path().display());
    let key_file = work.path().join("mamori.key");
    let run = |args: &[&str], configs: Option<&Path>| {
        let mut cmd = MAMORI.command();
        cmd.current_dir(elsewhere.path())
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_MASTER_KEY_FILE", &key_file);
        run_with_configs(cmd, configs)
    };
    let secret = ["webhooks", "secret", "--tenant", "demo-shinkin"];
    let (ok, first, stderr) = run(&secret, Some(&shipped_tenant_configs()));
    assert!(ok, "{stderr}");
    let (ok, again, stderr) = run(&secret, None);
    assert!(ok, "{stderr}");
    assert_eq!(again, first, "the same bank, the same secret");
    assert!(
        again.len() == 64 && again.bytes().all(|b| b.is_ascii_hexdigit()),
        "{again}"
    );
    let (ok, _, stderr) = run(&["webhooks", "secret", "--tenant", "no-such-bank"], None);
    assert!(!ok);
    assert!(stderr.contains("no bank with id no-such-bank"), "{stderr}");
}

/// `serve --smtp-url` delivers an issued token's mail over SMTP, from `--mail-from`, naming
/// `--public-url`; `mamori outbox` prints the same mail from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_mails_issued_tokens_by_smtp_and_outbox_prints_them() {
    let work = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", work.path().display());
    let run = |args: &[&str]| {
        let out = MAMORI
            .command()
            // The node's work dir: its key file seals what `api-keys create` writes.
            .current_dir(work.path())
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_TENANT_CONFIGS", shipped_tenant_configs())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, empty, stderr) = run(&["outbox"]);
    assert!(ok && empty.is_empty(), "{empty}\n{stderr}");
    let (ok, key, stderr) = run(&["api-keys", "create", "--tenant", "kitashin"]);
    assert!(ok, "{stderr}");

    let sink = SmtpSink::start().await;
    let server = MAMORI
        .serve()
        .work_dir(work.path())
        .database_url(&url)
        .args(["--smtp-url", &sink.url()])
        .args(["--mail-from", "Kitashin OTP <otp@kitashin.example>"])
        .args(["--public-url", "https://otp.kitashin.example"])
        .start();
    let port = server.port();
    let auth = format!("Bearer {key}");
    let headers = [("Authorization", auth.as_str())];
    let resp = http_request(
        port,
        "POST",
        "/v1/banks/kitashin/users",
        &headers,
        Some(&json!({ "contract_number": "3000001" })),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let user = resp.json()["id"].as_str().unwrap().to_owned();
    let resp = http_request(
        port,
        "POST",
        &format!("/v1/banks/kitashin/users/{user}/token-issues"),
        &headers,
        Some(&json!({ "mail_address": "abo@docomo.ne.jp", "activation_password": "kita2026" })),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());

    let mail = sink.wait_for_mail(Duration::from_secs(20)).await;
    assert_eq!(mail.rcpt_to, vec!["abo@docomo.ne.jp".to_owned()]);
    assert!(
        mail.header("From")
            .is_some_and(|from| from.contains("otp@kitashin.example")),
        "{}",
        mail.data
    );
    let text = mail.text();
    assert!(
        text.contains("--server https://otp.kitashin.example --service-id kitashin"),
        "{text}"
    );
    assert!(!mail.data.contains("kita2026"));
    // Marked sent once the server's 250 reaches Mamori, a moment after the sink has the mail.
    let sent = (0..100).any(|_| {
        let outbox = http_request(port, "GET", "/v1/banks/kitashin/outbox", &headers, None);
        outbox.text().contains("sent_at") || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    });
    assert!(sent, "the mail is marked sent");
    server.stop();

    let (ok, printed, stderr) = run(&["outbox", "--tenant", "kitashin", "--limit", "5"]);
    assert!(ok, "{stderr}");
    for needle in [
        "To:      abo@docomo.ne.jp",
        "Subject: 【きたしん】",
        "サービスID: kitashin",
        "sent 20",
    ] {
        assert!(printed.contains(needle), "{needle} missing:\n{printed}");
    }
    assert!(!printed.contains("kita2026"), "{printed}");
    let (ok, other, _) = run(&["outbox", "--tenant", "jonan-shinkin"]);
    assert!(ok && other.is_empty(), "{other}");
}

/// `mamori credentials unsuspend`: the platform operator lifts a token's platform-wide
/// suspension with a reason, which the bank reads in its own audit trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_unsuspend_lifts_a_suspension_with_a_reason() {
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let bank = app.bank("jonan-shinkin").await;
    let token = app.provision().await;
    let user = bank.create_user("5000001", None).await;
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            serde_json::json!({ "credential_id": token.credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    // Suspended as if it had reached the platform's budget of wrong codes.
    assert!(
        mamori_store::credentials::count_credential_failure(
            app.db.connection(),
            &token.credential_id,
            1,
            chrono_now(&app),
        )
        .await
        .unwrap()
    );
    assert_eq!(bank.status(&user).await["credential_suspended"], true);

    let url = app.test_db.url.clone();
    let run = |args: Vec<String>| {
        let out = MAMORI
            .command()
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_MASTER_KEY", app.master_key().to_hex())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = |reason: &str| {
        vec![
            "credentials".to_owned(),
            "unsuspend".to_owned(),
            token.credential_id.clone(),
            "--reason".to_owned(),
            reason.to_owned(),
            "--operator".to_owned(),
            "tanaka".to_owned(),
        ]
    };
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| run(args("本人確認済み")));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("suspension lifted"), "{stdout}");
    assert_eq!(bank.status(&user).await["credential_suspended"], false);
    let trail = bank.get("/audit-events?limit=1").await;
    let entry = &trail.body["items"][0];
    assert_eq!(entry["operation"], "liftCredentialSuspension", "{trail:?}");
    assert_eq!(entry["actor"], "operator:tanaka");
    assert!(entry["details"].as_str().unwrap().contains("本人確認済み"));

    let (ok, _, stderr) = tokio::task::block_in_place(|| run(args("again")));
    assert!(!ok && stderr.contains("not suspended"), "{stderr}");
}

fn chrono_now(app: &mamori_testkit::TestApp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(app.now_unix(), 0).unwrap()
}

/// `mamori credentials import`: a vendor's encrypted PSKC file is checked, imported, and
/// refused whole the second time, each line named; the pre-shared key comes from a file and
/// is never printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_import_takes_a_seed_file_whole_or_not_at_all() {
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let seeds =
        mamori_testkit::repo_root().join("crates/mamori-import/tests/data/demo-tokens.pskcxml");
    let psk = "4d616d6f7269496d706f727454657374";
    let psk_file = dir.path().join("psk.hex");
    std::fs::write(&psk_file, format!("{psk}\n")).unwrap();
    let url = app.test_db.url.clone();
    let key_file = dir.path().join("master.key");
    let run = |extra: &[&str]| {
        let out = MAMORI
            .command()
            .args(["credentials", "import"])
            .arg(&seeds)
            .arg("--psk-file")
            .arg(&psk_file)
            .args(extra)
            .args(["--database-url", &url])
            .arg("--master-key-file")
            .arg(&key_file)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| run(&["--check"]));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("FT30000001") && stdout.contains("3 token(s) can be imported"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| run(&[]));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("3 token(s) imported"), "{stdout}");
    let stored = mamori_store::credentials::find_credential(app.db.connection(), "FT30000002")
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(stored.kind, mamori_domain::CredentialKind::Totp);

    let (ok, _, stderr) = tokio::task::block_in_place(|| run(&[]));
    assert!(!ok, "a second import is refused");
    assert!(
        stderr.contains("demo-tokens.pskcxml:12: A token with this serial number exists already."),
        "{stderr}"
    );
    assert!(stderr.contains("nothing imported (3 fault(s))"), "{stderr}");
    for output in [&stdout, &stderr] {
        assert!(
            !output.contains(psk) && !output.contains("mamori-demo-seed"),
            "{output}"
        );
    }
}

/// `mamori operators create|list`: a bank operator is created with a one-time password printed
/// once, which signs in to the console's setup; a duplicate or a bank operator without a bank
/// is refused with a reason; the list never shows a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_created_and_listed_at_the_console() {
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let url = app.test_db.url.clone();
    let run = |args: &[&str]| {
        let out = MAMORI
            .command()
            .args(["operators"])
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_MASTER_KEY", app.master_key().to_hex())
            // The console under test hashes at the testkit's small cost.
            .env("MAMORI_PASSWORD_MEMORY_KIB", "1024")
            .env("MAMORI_PASSWORD_ITERATIONS", "1")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let create = [
        "create",
        "--login",
        "tanaka",
        "--name",
        "田中 花子",
        "--role",
        "bank_operator",
        "--bank",
        "jonan-shinkin",
    ];
    let (ok, password, stderr) = tokio::task::block_in_place(|| run(&create));
    assert!(ok, "{stderr}");
    assert_eq!(
        password.lines().count(),
        1,
        "only the password on stdout: {password}"
    );
    assert!(stderr.contains("shown only now"), "{stderr}");

    let signed_in = app.admin_sign_in("tanaka", &password, None).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["stage"], "setup", "{:?}", signed_in.body);

    let (ok, _, stderr) = tokio::task::block_in_place(|| run(&create));
    assert!(
        !ok && stderr.contains("tanaka"),
        "a second tanaka is refused: {stderr}"
    );
    let (ok, _, stderr) = tokio::task::block_in_place(|| {
        run(&[
            "create",
            "--login",
            "suzuki",
            "--name",
            "鈴木",
            "--role",
            "bank_operator",
        ])
    });
    assert!(!ok && stderr.contains("needs a bank"), "{stderr}");

    let (ok, list, stderr) = tokio::task::block_in_place(|| run(&["list"]));
    assert!(ok, "{stderr}");
    let line = list.lines().find(|l| l.starts_with("tanaka")).expect(&list);
    assert!(
        line.contains("bank_operator") && line.contains("jonan-shinkin"),
        "{line}"
    );
    assert!(!list.contains(&password), "{list}");
    assert!(!list.contains("suzuki"), "{list}");
}

/// `mamori audit checkpoint` signs every trail's head, to keep outside the database; `audit
/// verify --checkpoints` holds until a database writer cuts a chain back, then names the bank
/// and fails. Without the master key nothing is verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_checkpoints_kept_outside_catch_a_chain_cut_back() {
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let bank = app.bank("jonan-shinkin").await;
    for n in 0..4 {
        bank.create_user(&format!("700000{n}"), None).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = app.test_db.url.clone();
    let run = |args: &[&str], key: bool| {
        let mut command = MAMORI.command();
        command
            .current_dir(dir.path())
            .args(["audit"])
            .args(args)
            .args(["--database-url", &url])
            .env_remove("MAMORI_MASTER_KEY");
        if key {
            command.env("MAMORI_MASTER_KEY", app.master_key().to_hex());
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, lines, stderr) = tokio::task::block_in_place(|| run(&["checkpoint"], true));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("signed by key"), "{stderr}");
    let ours = lines
        .lines()
        .find(|l| l.contains("\"bank\":\"jonan-shinkin\""))
        .expect(&lines);
    let seq = serde_json::from_str::<serde_json::Value>(ours).unwrap()["seq"]
        .as_i64()
        .unwrap();
    let file = dir.path().join("checkpoints.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let file = file.to_str().unwrap();

    let (ok, stdout, stderr) =
        tokio::task::block_in_place(|| run(&["verify", "--checkpoints", file], true));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("jonan-shinkin: audit chain intact"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("jonan-shinkin: checkpoint at entry {seq} holds")),
        "{stdout}"
    );

    // A writer removes the newest two entries and moves the head back.
    let conn = app.db.connection();
    let kept: String = sea_orm::ConnectionTrait::query_one_raw(
        conn,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!(
                "SELECT hash FROM audit_events WHERE tenant_id = 'jonan-shinkin' AND seq = {}",
                seq - 2
            ),
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .try_get("", "hash")
    .unwrap();
    for sql in [
        format!(
            "DELETE FROM audit_events WHERE tenant_id = 'jonan-shinkin' AND seq > {}",
            seq - 2
        ),
        format!(
            "UPDATE audit_heads SET seq = {}, hash = '{kept}' WHERE tenant_id = 'jonan-shinkin'",
            seq - 2
        ),
    ] {
        sea_orm::ConnectionTrait::execute_unprepared(conn, &sql)
            .await
            .unwrap();
    }
    let (ok, stdout, stderr) =
        tokio::task::block_in_place(|| run(&["verify", "--checkpoints", file], true));
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("jonan-shinkin: audit chain intact"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("jonan-shinkin: checkpoint at entry {seq} BROKEN"))
            && stderr.contains("cut back"),
        "{stderr}"
    );

    let (ok, _, stderr) =
        tokio::task::block_in_place(|| run(&["verify", "--tenant", "jonan-shinkin"], false));
    assert!(!ok && stderr.contains("master key"), "{stderr}");
    assert!(
        !dir.path().join("mamori.key").exists(),
        "no key is made for a database that holds sealed records"
    );
}

/// A node does not start on a database whose audit chain says it was written before the trail
/// was keyed (a writer reset its head): it names the chain and `mamori audit rekey`; and the
/// re-key refuses a chain whose old links do not check, rather than launder it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_an_unkeyed_chain_and_rekey_refuses_to_launder_it() {
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let bank = app.bank("jonan-shinkin").await;
    bank.create_user("7100001", None).await;
    assert_eq!(bank.get("/audit-events/verify").await.body["intact"], true);
    sea_orm::ConnectionTrait::execute_unprepared(
        app.db.connection(),
        "UPDATE audit_heads SET keyed = FALSE WHERE tenant_id = 'jonan-shinkin'",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = app.test_db.url.clone();
    let run = |args: &[&str]| {
        let out = MAMORI
            .command()
            .current_dir(dir.path())
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_MASTER_KEY", app.master_key().to_hex())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let stderr = serve_refuses_to_start(dir.path(), &url, &app.master_key().to_hex());
    assert!(
        stderr.contains("jonan-shinkin") && stderr.contains("mamori audit rekey"),
        "{stderr}"
    );
    let (ok, _, stderr) = tokio::task::block_in_place(|| run(&["audit", "rekey"]));
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("does not check at entry 1"), "{stderr}");
}

/// A node does not start on a database with account rows that carry no MAC (an upgrade from an
/// earlier version): it names the tables and `mamori keys mac-accounts`; that command gives them
/// their MACs once, and a second run finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_account_rows_without_a_mac_until_mac_accounts() {
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let bank = app.bank("jonan-shinkin").await;
    bank.create_user("7100002", None).await;
    sea_orm::ConnectionTrait::execute_unprepared(
        app.db.connection(),
        "UPDATE api_keys SET mac = NULL",
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = app.test_db.url.clone();
    let run = |args: &[&str]| {
        let out = MAMORI
            .command()
            .current_dir(dir.path())
            .args(args)
            .args(["--database-url", &url])
            .env("MAMORI_MASTER_KEY", app.master_key().to_hex())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let stderr = serve_refuses_to_start(dir.path(), &url, &app.master_key().to_hex());
    assert!(
        stderr.contains("1 row(s) of api_keys") && stderr.contains("mamori keys mac-accounts"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = tokio::task::block_in_place(|| run(&["keys", "mac-accounts"]));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("api_keys: 1 given their MAC"), "{stdout}");
    let (ok, stdout, stderr) = tokio::task::block_in_place(|| run(&["keys", "mac-accounts"]));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("nothing to do"), "{stdout}");
}

/// A node does not start while a password hash from before the pepper is stored (its user
/// could not log in): it names `mamori passwords pepper`, which wraps the hash; then nothing
/// from before the pepper is left. An upgrade that owes more than one step hears of every one
/// at once (here account rows without their MAC too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_hashes_without_the_pepper_until_passwords_pepper_wraps_them() {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let app = mamori_testkit::TestApp::new(TestEngine::Sqlite).await;
    let bank = app.bank("jonan-shinkin").await;
    let created = bank
        .post(
            "/users",
            json!({ "contract_number": "7100001", "display_name": "城南 花子", "initial_password": "temp1234" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let unpeppered = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        b"temp1234",
        &SaltString::encode_b64(b"older-salt-00001").unwrap(),
    )
    .unwrap()
    .to_string();
    sea_orm::ConnectionTrait::execute_unprepared(
        app.db.connection(),
        &format!("UPDATE users SET password_hash = '{unpeppered}'; UPDATE api_keys SET mac = NULL"),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = app.test_db.url.clone();
    let stderr = serve_refuses_to_start(dir.path(), &url, &app.master_key().to_hex());
    assert!(
        stderr.contains("2 upgrade steps are owed")
            && stderr.contains("mamori passwords pepper")
            && stderr.contains("1 contract users' login passwords")
            && stderr.contains("mamori keys mac-accounts"),
        "{stderr}"
    );

    let out = tokio::task::block_in_place(|| {
        MAMORI
            .command()
            .current_dir(dir.path())
            .args(["passwords", "pepper", "--database-url", &url])
            .env("MAMORI_MASTER_KEY", app.master_key().to_hex())
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("users (contract users' login passwords): 1 wrapped with the pepper"),
        "{stdout}"
    );
    assert!(
        app.state
            .services
            .password_pepper
            .legacy()
            .await
            .unwrap()
            .is_empty()
    );
}

/// Starts `mamori serve` on `url` in `dir` and returns its standard error once it has exited
/// with a failure. A node that started anyway would serve forever: it gets a minute to refuse.
fn serve_refuses_to_start(dir: &Path, url: &str, master_key_hex: &str) -> String {
    let mut serve = MAMORI
        .command()
        .current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--tenant-configs"])
        .arg(shipped_tenant_configs())
        .args(["--database-url", url])
        .env("MAMORI_MASTER_KEY", master_key_hex)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            serve.kill().unwrap();
            break None;
        }
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(100)));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.is_some_and(|s| !s.success()), "{stderr}");
    stderr
}
