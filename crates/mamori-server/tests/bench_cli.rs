//! `mamori seed` and `mamori bench` as the measuring runbook uses them: a seeded database whose
//! users' codes the real server accepts, a bench run that gets only the answers it expects, a
//! second seed with the same prefix refused, and a server off the loopback interface refused.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::path::Path;

use mamori_domain::{Clock, SystemClock};
use mamori_testkit::{Mamori, TestDb, TestEngine, TestToken, http_request};

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

/// Runs `mamori <args>` in `dir`: success, standard output, standard error.
fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = MAMORI
        .command()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fresh_database(engine: TestEngine) -> TestDb {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(TestDb::create(engine))
}

/// Seeds a fresh (unmigrated) database with 2 banks and 20 users, then serves it with the same
/// master key: for each bank a user's code from the secrets file is accepted once and refused
/// as already used the second time; the bench drives it with a mix and gets no unexpected
/// answer; the seed's audit entries keep each bank's chain intact; a second seed with the same
/// prefix changes nothing.
fn seeded_users_log_in(engine: TestEngine) {
    let db = fresh_database(engine);
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let url = db.url.as_str();
    let (ok, stdout, stderr) = run(
        work,
        &[
            "seed",
            "--database-url",
            url,
            "--tenants",
            "2",
            "--users",
            "20",
            "--prefix",
            "bench",
            "--secrets-out",
            "bench.secrets",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("seeded 2 bank(s)"), "{stdout}");
    let secrets_path = work.join("bench.secrets");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secrets file is private");
    }
    let text = std::fs::read_to_string(&secrets_path).unwrap();
    // `bank <id> <key> …` lines, then `<bank index> <user id> <secret>` lines.
    let banks: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("bank "))
        .map(|l| {
            let mut parts = l.split(' ');
            (
                parts.next().unwrap().to_owned(),
                parts.next().unwrap().to_owned(),
            )
        })
        .collect();
    let users: Vec<(usize, String, String)> = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("bank "))
        .map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            (
                parts[0].parse().unwrap(),
                parts[1].to_owned(),
                parts[2].to_owned(),
            )
        })
        .collect();
    assert_eq!(
        banks.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
        ["bench-001", "bench-002"]
    );
    assert_eq!(users.len(), 20);
    assert_eq!(users.iter().filter(|u| u.0 == 1).count(), 10);
    for secret in [&banks[0].1, &users[0].2] {
        assert!(!stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()));
    }

    // `mamori serve` in the same directory opens the same key file (mamori.key).
    let server = MAMORI.serve().database_url(url).work_dir(work).start();
    let port = server.port();
    for (index, (bank, key)) in banks.iter().enumerate() {
        // The last user of the bank: the bench's setup check starts with the first.
        let (_, user, secret) = users.iter().rev().find(|u| u.0 == index).unwrap();
        let code = TestToken::new("seeded", secret).code_at(SystemClock.now().timestamp());
        let path = format!("/v1/banks/{bank}/users/{user}/otp/verify");
        let auth = format!("Bearer {key}");
        let body = serde_json::json!({ "otp": code });
        let first = http_request(
            port,
            "POST",
            &path,
            &[("authorization", &auth)],
            Some(&body),
        );
        assert_eq!(first.status, 200, "{}", first.text());
        let again = http_request(
            port,
            "POST",
            &path,
            &[("authorization", &auth)],
            Some(&body),
        );
        assert_eq!(again.status, 409, "{}", again.text());
        assert_eq!(again.json()["code"], "otp_already_used");
    }
    let base = server.base_url();
    let (ok, stdout, stderr) = run(
        work,
        &[
            "bench",
            "--url",
            &base,
            "--secrets",
            "bench.secrets",
            // Not the last user of each bank, whose current step was spent above.
            "--users",
            "18",
            "--concurrency",
            "4",
            "--duration",
            "2s",
            "--mix",
            "correct=70,replay=15,wrong=15",
            "--include-setup-check",
            "--json",
            "bench.json",
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("bench.json")).unwrap()).unwrap();
    assert_eq!(report["unexpected"], 0, "{stdout}");
    assert!(report["requests"].as_u64().unwrap() > 0, "{stdout}");
    assert!(
        stdout.contains("requests/s") && stdout.contains("p99"),
        "{stdout}"
    );
    server.stop();

    for (bank, _) in &banks {
        let (ok, stdout, stderr) = run(
            work,
            &["audit", "verify", "--tenant", bank, "--database-url", url],
        );
        assert!(ok && stdout.contains("intact"), "{stdout}{stderr}");
    }

    let (ok, _, stderr) = run(
        work,
        &[
            "seed",
            "--database-url",
            url,
            "--tenants",
            "1",
            "--users",
            "5",
            "--prefix",
            "bench",
            "--secrets-out",
            "again.secrets",
        ],
    );
    assert!(!ok, "a second seed with the same prefix is refused");
    assert!(
        stderr.contains("refusing to seed") && stderr.contains("bench-"),
        "{stderr}"
    );
    assert!(!work.join("again.secrets").exists());
}

#[test]
fn seeded_users_log_in_on_sqlite() {
    seeded_users_log_in(TestEngine::Sqlite);
}

#[test]
fn seeded_users_log_in_on_postgres() {
    seeded_users_log_in(TestEngine::Postgres);
}

#[test]
fn bench_refuses_a_server_off_the_loopback_interface() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["http://10.1.2.3:8080", "https://mamori.example.jp"] {
        let (ok, _, stderr) = run(dir.path(), &["bench", "--url", url, "--duration", "1s"]);
        assert!(!ok, "{url}");
        assert!(
            stderr.contains("only a server on this machine's loopback"),
            "{stderr}"
        );
    }
}

#[test]
fn limit_sqlite_measures_commits_in_the_given_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(
        dir.path(),
        &["bench", "limit-sqlite", "--dir", ".", "--duration", "300ms"],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("commits/s"), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "the scratch database is removed: {left:?}");
}
