//! The master keys kept by an HSM (`--key-provider pkcs11`), with the real binary and SoftHSM2
//! from Debian's packages: each test gets its own token directory (`SOFTHSM2_CONF`), a token
//! made with `softhsm2-util`, and the key-encryption key made by `mamori keys hsm-init`. A
//! node seals and opens token secrets with the HSM-wrapped key and starts again; the wrapped
//! file holds the key's id but never its bytes; a wrong PIN or key label refuses and changes
//! nothing; a rotation under the HSM opens old and new records, then retires the old key.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use data_encoding::{BASE64, HEXLOWER};
use mamori_testkit::{Mamori, Server, TestDb, TestEngine, http_request, shipped_tenant_configs};
use serde_json::json;
use totp_rs::{Algorithm, TOTP};

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

/// Debian's SoftHSM2 module and its token tool (package `softhsm2`).
const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SOFTHSM_UTIL: &str = "softhsm2-util";

const TOKEN_LABEL: &str = "mamori-test";
const PIN: &str = "31415926";
const SO_PIN: &str = "27182818";

/// A bank that registers with one code.
const BANK: &str = "demo-shinkin";

/// A SoftHSM2 token of the test's own: its configuration and token directory in a temporary
/// directory, named to every command by `SOFTHSM2_CONF`.
struct SoftHsm {
    dir: tempfile::TempDir,
}

impl SoftHsm {
    /// A fresh, initialised token; `None` (with the reason printed) where SoftHSM2 is not
    /// installed, except in CI (`CI=true`), where that fails the test.
    fn new() -> Option<Self> {
        let installed = Path::new(SOFTHSM_MODULE).exists()
            && Command::new(SOFTHSM_UTIL)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !installed {
            let reason = format!(
                "SoftHSM2 is not installed ({SOFTHSM_MODULE} and {SOFTHSM_UTIL}): \
                 apt-get install softhsm2"
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{reason}");
            eprintln!("skipped: {reason}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let hsm = Self { dir };
        let out = Command::new(SOFTHSM_UTIL)
            .args(["--init-token", "--free", "--label", TOKEN_LABEL])
            .args(["--pin", PIN, "--so-pin", SO_PIN])
            .env("SOFTHSM2_CONF", hsm.conf())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(hsm)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// The settings of the pkcs11 provider on this token, all in the environment.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("SOFTHSM2_CONF", self.conf().display().to_string()),
            ("MAMORI_KEY_PROVIDER", "pkcs11".to_owned()),
            ("MAMORI_PKCS11_MODULE", SOFTHSM_MODULE.to_owned()),
            ("MAMORI_PKCS11_TOKEN_LABEL", TOKEN_LABEL.to_owned()),
            ("MAMORI_PKCS11_PIN", PIN.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// [`Self::env`] with one setting changed.
    fn env_with(&self, name: &str, value: &str) -> Vec<(String, String)> {
        let mut env: Vec<_> = self.env().into_iter().filter(|(k, _)| k != name).collect();
        env.push((name.to_owned(), value.to_owned()));
        env
    }
}

/// `mamori <args>` in `dir` on `url`, with extra environment: success, stdout, stderr.
fn run(dir: &Path, url: &str, args: &[&str], env: &[(String, String)]) -> (bool, String, String) {
    let mut cmd = MAMORI.command();
    cmd.current_dir(dir)
        .args(args)
        .env("MAMORI_DATABASE_URL", url)
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

/// `run` that must succeed: its standard output and error.
fn ok(dir: &Path, url: &str, args: &[&str], env: &[(String, String)]) -> (String, String) {
    let (success, out, err) = run(dir, url, args, env);
    assert!(success, "mamori {args:?} failed:\n{out}\n{err}");
    (out, err)
}

/// `mamori serve` in `dir` with `env`, ready.
fn serve(dir: &Path, url: &str, env: &[(String, String)]) -> Server {
    let mut builder = MAMORI.serve().work_dir(dir).database_url(url);
    for (name, value) in env {
        builder = builder.env(name, value);
    }
    builder.start()
}

/// `mamori serve` that is expected to refuse: its standard error. One that starts is killed
/// after a minute and fails the test.
fn refused_serve(dir: &Path, url: &str, env: &[(String, String)]) -> String {
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

/// The key ids in a wrapped key file, the current one first.
fn wrapped_ids(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("mamori.key.wrapped"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('k') && !l.starts_with("kek "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

/// The real time: the server under test reads it too.
#[allow(clippy::disallowed_methods)] // the server reads the real clock; so must the phone
fn now_unix() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// Hardware tokens to import: one TOTP seed per serial.
fn tokens(dir: &Path, file: &str, serials: &[&str]) -> Vec<TOTP> {
    let mut csv = "serial,secret,type,digits,period\n".to_owned();
    let totps: Vec<_> = serials
        .iter()
        .map(|serial| {
            let totp = TOTP::new_unchecked(
                Algorithm::SHA1,
                6,
                1,
                30,
                format!("hsm-test-secret-{serial}").into_bytes(),
            );
            csv.push_str(&format!(
                "{serial},{},totp,6,30\n",
                totp.get_secret_base32()
            ));
            totp
        })
        .collect();
    std::fs::write(dir.join(file), csv).unwrap();
    totps
}

/// A new user of the bank registers the imported token `serial` with a code from `totp`: the
/// server opens the token's sealed secret to check it.
fn register(server: &Server, api_key: &str, contract: &str, serial: &str, totp: &TOTP) {
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
    let created = call("/users", json!({ "contract_number": contract }));
    assert_eq!(created.status, 201, "{}", created.text());
    let user = created.json()["id"].as_str().unwrap().to_owned();
    let registered = call(
        &format!("/users/{user}/credential"),
        json!({ "credential_id": serial, "otp": totp.generate(now_unix()) }),
    );
    assert_eq!(
        registered.status,
        201,
        "{serial}'s secret opens: {}",
        registered.text()
    );
}

/// On a fresh database a node with the pkcs11 provider makes the first master key and keeps it
/// only wrapped (0600, no plaintext key file); a token sealed with it registers; the node
/// starts again from the wrapped file and opens another token. `hsm-init` makes the HSM key
/// once and refuses a second under the same label.
#[test]
fn the_hsm_keeps_the_master_key_across_restarts_on_sqlite() {
    let Some(hsm) = SoftHsm::new() else { return };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let url = format!("sqlite://{}/mamori.db?mode=rwc", dir.display());
    let env = hsm.env();

    let (out, _) = ok(dir, &url, &["keys", "hsm-init"], &env);
    assert!(
        out.contains("mamori-kek") && out.contains("not extractable"),
        "{out}"
    );
    let (again, _, stderr) = run(dir, &url, &["keys", "hsm-init"], &env);
    assert!(!again && stderr.contains("already holds"), "{stderr}");

    let totps = tokens(dir, "tokens.csv", &["HSMA00000001", "HSMA00000002"]);
    let (_, stderr) = ok(dir, &url, &["credentials", "import", "tokens.csv"], &env);
    assert!(
        stderr.contains("created a new master key, wrapped by the HSM"),
        "{stderr}"
    );
    let key_id = loaded_key_id(&stderr);
    assert_eq!(wrapped_ids(dir), std::slice::from_ref(&key_id));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("mamori.key.wrapped"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!dir.join("mamori.key").exists(), "no plaintext key file");
    let (api_key, _) = ok(dir, &url, &["api-keys", "create", "--tenant", BANK], &env);

    let server = serve(dir, &url, &env);
    register(&server, &api_key, "6100001", "HSMA00000001", &totps[0]);
    let logs = server.stop();
    assert!(logs.contains("master keys unwrapped by the HSM"), "{logs}");
    assert_eq!(loaded_key_id(&logs), key_id);

    let server = serve(dir, &url, &env);
    register(&server, &api_key, "6100002", "HSMA00000002", &totps[1]);
    let logs = server.stop();
    assert_eq!(loaded_key_id(&logs), key_id, "the same key after a restart");
    assert!(!dir.join("mamori.key").exists());
}

/// A bank on the file provider moves its key into the HSM with `mamori keys wrap`: the
/// wrapped file names the same key id, yet holds none of the key's bytes (hex, base64 or
/// raw); with the plaintext key file gone the node opens the records sealed before. A wrong
/// PIN, a missing key label, a missing wrapped file or a plaintext key beside the HSM each
/// refuse to start with what to do, and change nothing.
#[test]
fn a_file_key_moves_into_the_hsm_and_bad_settings_refuse_on_postgres() {
    let Some(hsm) = SoftHsm::new() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let test_db = runtime.block_on(TestDb::create(TestEngine::Postgres));
    let url = test_db.url.clone();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let env = hsm.env();

    // Before: the file provider, as every installation started.
    let totps = tokens(dir, "tokens.csv", &["HSMB00000001"]);
    let (_, stderr) = ok(dir, &url, &["credentials", "import", "tokens.csv"], &[]);
    let file_key_id = loaded_key_id(&stderr);
    let (api_key, _) = ok(dir, &url, &["api-keys", "create", "--tenant", BANK], &[]);
    let secret_args = ["webhooks", "secret", "--tenant", BANK];
    let (webhook_secret, _) = ok(dir, &url, &secret_args, &[]);
    let key_hex = std::fs::read_to_string(dir.join("mamori.key")).unwrap();
    let key_bytes = HEXLOWER.decode(key_hex.trim().as_bytes()).unwrap();

    ok(dir, &url, &["keys", "hsm-init"], &env);
    let (out, _) = ok(dir, &url, &["keys", "wrap"], &env);
    assert!(out.contains(&file_key_id), "{out}");
    let wrapped = std::fs::read(dir.join("mamori.key.wrapped")).unwrap();
    let wrapped_text = String::from_utf8(wrapped.clone()).unwrap();
    assert_eq!(
        wrapped_ids(dir),
        std::slice::from_ref(&file_key_id),
        "{wrapped_text}"
    );
    for (what, bytes) in [
        ("hex", key_hex.trim().as_bytes().to_vec()),
        ("base64", BASE64.encode(&key_bytes).into_bytes()),
        ("raw", key_bytes.clone()),
    ] {
        assert!(
            !wrapped.windows(bytes.len()).any(|w| w == bytes),
            "the wrapped file holds the key in {what}:\n{wrapped_text}"
        );
    }
    for line in wrapped_text.lines().filter(|l| l.starts_with(&file_key_id)) {
        let blob = BASE64
            .decode(line.split_whitespace().nth(1).unwrap().as_bytes())
            .unwrap();
        assert!(
            !blob
                .windows(8)
                .any(|w| key_bytes.windows(8).any(|k| k == w)),
            "no 8 bytes of the key in the wrapped blob"
        );
    }
    let (_, _, stderr) = run(dir, &url, &["keys", "wrap"], &env);
    assert!(stderr.contains("exists already"), "{stderr}");

    // The plaintext key goes; the HSM opens what it sealed.
    std::fs::rename(dir.join("mamori.key"), dir.join("offline-backup.key")).unwrap();
    let (after, stderr) = ok(dir, &url, &secret_args, &env);
    assert_eq!(
        after, webhook_secret,
        "the same root, opened through the HSM"
    );
    assert_eq!(loaded_key_id(&stderr), file_key_id);
    let server = serve(dir, &url, &env);
    register(&server, &api_key, "6200001", "HSMB00000001", &totps[0]);
    server.stop();

    // Bad settings refuse, and leave the wrapped file and the database as they were.
    let unchanged = || {
        assert_eq!(
            std::fs::read(dir.join("mamori.key.wrapped")).unwrap(),
            wrapped,
            "the wrapped file is unchanged"
        );
        assert!(!dir.join("mamori.key").exists(), "no key file was made");
    };
    let stderr = refused_serve(dir, &url, &hsm.env_with("MAMORI_PKCS11_PIN", "00000000"));
    assert!(
        stderr.contains("refused the user PIN") && stderr.contains("MAMORI_PKCS11_PIN"),
        "{stderr}"
    );
    assert!(!stderr.contains("00000000"), "the PIN is never printed");
    unchanged();
    let stderr = refused_serve(
        dir,
        &url,
        &hsm.env_with("MAMORI_PKCS11_KEY_LABEL", "no-such-kek"),
    );
    assert!(
        stderr.contains("was wrapped by the HSM key mamori-kek, not by no-such-kek"),
        "{stderr}"
    );
    unchanged();
    let without_kek = SoftHsm::new().unwrap();
    let stderr = refused_serve(dir, &url, &without_kek.env());
    assert!(
        stderr.contains("holds no AES key labelled mamori-kek")
            && stderr.contains("mamori keys hsm-init"),
        "{stderr}"
    );
    unchanged();
    let stderr = refused_serve(
        dir,
        &url,
        &hsm.env_with("MAMORI_PKCS11_TOKEN_LABEL", "no-such-token"),
    );
    assert!(
        stderr.contains("no token labelled no-such-token") && stderr.contains(TOKEN_LABEL),
        "{stderr}"
    );
    unchanged();
    let stderr = refused_serve(
        dir,
        &url,
        &hsm.env_with("MAMORI_MASTER_KEY", key_hex.trim()),
    );
    assert!(
        stderr.contains("MAMORI_MASTER_KEY is set") && stderr.contains("pkcs11"),
        "{stderr}"
    );
    unchanged();
    let elsewhere = tempfile::tempdir().unwrap();
    let stderr = refused_serve(elsewhere.path(), &url, &env);
    assert!(
        stderr.contains("mamori.key.wrapped does not exist")
            && stderr.contains(&file_key_id)
            && stderr.contains("credentials"),
        "{stderr}"
    );
    assert!(!elsewhere.path().join("mamori.key.wrapped").exists());
    let (_, _, stderr) = run(
        dir,
        &url,
        &["keys", "rotate-master"],
        &hsm.env_with("MAMORI_KEY_PROVIDER", "file"),
    );
    assert!(stderr.contains("--key-provider pkcs11"), "{stderr}");
    unchanged();

    // A fresh database with a wrong PIN makes no key either.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_url = format!("sqlite://{}/mamori.db?mode=rwc", fresh.path().display());
    let stderr = refused_serve(
        fresh.path(),
        &fresh_url,
        &hsm.env_with("MAMORI_PKCS11_PIN", "00000000"),
    );
    assert!(stderr.contains("refused the user PIN"), "{stderr}");
    assert!(!fresh.path().join("mamori.key.wrapped").exists());
    assert!(!fresh.path().join("mamori.key").exists());

    // Nor does a token without the HSM key.
    let stderr = refused_serve(fresh.path(), &fresh_url, &without_kek.env());
    assert!(
        stderr.contains("holds no AES key labelled mamori-kek")
            && stderr.contains("mamori keys hsm-init"),
        "{stderr}"
    );
    assert!(!fresh.path().join("mamori.key.wrapped").exists());
}

/// `mamori keys rotate-master` under the HSM: a new key first in the wrapped file, the old one
/// kept; after a restart records sealed before (old key) and after (new key) both open;
/// `drop-older` is refused until `reseal` has moved every record, then leaves the new key
/// alone, and a node starts on it. The bank's webhook secret never changes.
fn rotation_under_the_hsm(engine: TestEngine) {
    let Some(hsm) = SoftHsm::new() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let test_db = runtime.block_on(TestDb::create(engine));
    let url = test_db.url.clone();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let env = hsm.env();

    ok(dir, &url, &["keys", "hsm-init"], &env);
    let before = tokens(dir, "before.csv", &["HSMC00000001", "HSMC00000002"]);
    let (_, stderr) = ok(dir, &url, &["credentials", "import", "before.csv"], &env);
    let old_id = loaded_key_id(&stderr);
    let (api_key, _) = ok(dir, &url, &["api-keys", "create", "--tenant", BANK], &env);
    let secret_args = ["webhooks", "secret", "--tenant", BANK];
    let (webhook_secret, _) = ok(dir, &url, &secret_args, &env);
    let server = serve(dir, &url, &env);
    register(&server, &api_key, "6300001", "HSMC00000001", &before[0]);
    server.stop();

    let (out, _) = ok(dir, &url, &["keys", "rotate-master"], &env);
    let ids = wrapped_ids(dir);
    assert_eq!(ids.len(), 2, "{out}");
    let new_id = ids[0].clone();
    assert_eq!(ids[1], old_id);
    assert_ne!(new_id, old_id);
    assert!(out.contains(&new_id) && out.contains(&old_id), "{out}");

    let after = tokens(dir, "after.csv", &["HSMC00000003"]);
    let (_, stderr) = ok(dir, &url, &["credentials", "import", "after.csv"], &env);
    assert_eq!(
        loaded_key_id(&stderr),
        new_id,
        "new records are sealed with the new key"
    );
    let server = serve(dir, &url, &env);
    register(&server, &api_key, "6300002", "HSMC00000002", &before[1]);
    register(&server, &api_key, "6300003", "HSMC00000003", &after[0]);
    let logs = server.stop();
    assert_eq!(loaded_key_id(&logs), new_id);
    assert!(logs.contains("older=1"), "{logs}");

    let (dropped, out, stderr) = run(dir, &url, &["keys", "drop-older"], &env);
    assert!(
        !dropped && stderr.contains("mamori keys reseal") && out.contains(&old_id),
        "{out}\n{stderr}"
    );
    assert_eq!(wrapped_ids(dir).len(), 2, "nothing was dropped");
    let (out, _) = ok(dir, &url, &["keys", "reseal"], &env);
    assert!(out.contains("mamori keys drop-older"), "{out}");
    let (out, _) = ok(dir, &url, &["keys", "drop-older"], &env);
    assert!(out.contains(&format!("dropped {old_id}")), "{out}");
    assert_eq!(wrapped_ids(dir), std::slice::from_ref(&new_id));

    let (secret, _) = ok(dir, &url, &secret_args, &env);
    assert_eq!(
        secret, webhook_secret,
        "a rotation changes no derived value"
    );
    let server = serve(dir, &url, &env);
    let logs = server.stop();
    assert_eq!(loaded_key_id(&logs), new_id);
    assert!(logs.contains("older=0"), "{logs}");
}

#[test]
fn rotation_under_the_hsm_on_sqlite() {
    rotation_under_the_hsm(TestEngine::Sqlite);
}

#[test]
fn rotation_under_the_hsm_on_postgres() {
    rotation_under_the_hsm(TestEngine::Postgres);
}
