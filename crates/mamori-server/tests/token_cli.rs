//! `mamori token` as a customer runs it, against a real `mamori serve` over HTTP: provision,
//! register at a bank with the code it shows, log in, list the banks, answer a push approval.
//! Codes of other time steps come from `--clock-offset`, so no test waits for a new code.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use mamori_testkit::{Mamori, Server, http_request, shipped_tenant_configs};
use serde_json::{Value, json};

const BANK: &str = "kitakyushu-bank";

const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

/// A server with the shipped banks on SQLite in a temporary directory, the bank's API key, and
/// the customer's token file beside it.
struct Platform {
    // Stopped before its directory goes.
    server: Server,
    work: tempfile::TempDir,
    key: String,
}

impl Platform {
    fn start() -> Self {
        let work = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/mamori.db?mode=rwc", work.path().display());
        let out = MAMORI
            .command()
            // The key's MAC is made with the master key: the node's key file, there.
            .current_dir(work.path())
            .args([
                "api-keys",
                "create",
                "--tenant",
                BANK,
                "--database-url",
                &url,
            ])
            .env("MAMORI_TENANT_CONFIGS", shipped_tenant_configs())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let server = MAMORI
            .serve()
            .work_dir(work.path())
            .database_url(&url)
            .start();
        Self { server, work, key }
    }

    fn server_url(&self) -> String {
        self.server.base_url()
    }

    fn token_file(&self) -> PathBuf {
        self.work.path().join("phone").join("token.json")
    }

    /// `mamori token <args>` with this platform's token file and no terminal.
    fn token(&self, args: &[&str]) -> Output {
        token_with_file(&self.token_file(), args)
    }

    /// The bank's internet-banking system calling Mamori.
    fn bank(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.key);
        let resp = http_request(
            self.server.port(),
            method,
            &format!("/v1/banks/{BANK}{path}"),
            &[("Authorization", &auth)],
            body,
        );
        (resp.status, resp.json())
    }

    /// A contract user at the bank.
    fn create_user(&self, contract_number: &str) -> String {
        let (status, body) = self.bank(
            "POST",
            "/users",
            Some(&json!({
                "contract_number": contract_number,
                "user_id": "u01",
                "display_name": "北九 太郎",
            })),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// 利用開始登録 with a code the token shows.
    fn register(&self, user: &str, credential_id: &str, code: &str) {
        let (status, body) = self.bank(
            "POST",
            &format!("/users/{user}/credential"),
            Some(&json!({ "credential_id": credential_id, "otp": code })),
        );
        assert_eq!(status, 201, "{body}");
    }
}

fn token_with_file(file: &Path, args: &[&str]) -> Output {
    MAMORI
        .command()
        .arg("token")
        .args(args)
        .env("MAMORI_TOKEN_FILE", file)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `mamori token code --json [args]`: (credential ID, code, seconds left).
fn code(platform: &Platform, args: &[&str]) -> (String, String, u64) {
    let mut all = vec!["code", "--json"];
    all.extend_from_slice(args);
    let out = platform.token(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    (
        json["credential_id"].as_str().unwrap().to_owned(),
        json["code"].as_str().unwrap().to_owned(),
        json["seconds_left"].as_u64().unwrap(),
    )
}

/// The codes below span the steps either side of the current one, which the bank's window
/// (one step) accepts only while the current step lasts: near its end, start with the next.
fn start_early_in_a_step(platform: &Platform) {
    let (_, _, seconds_left) = code(platform, &[]);
    if seconds_left < 10 {
        std::thread::sleep(Duration::from_secs(seconds_left + 1));
    }
}

/// Provision, register with the code shown, log in, list the banks, list the credentials.
#[test]
fn token_cli_provisions_registers_logs_in_and_lists_its_banks() {
    let platform = Platform::start();
    let out = platform.token(&[
        "provision",
        "--server",
        &platform.server_url(),
        "--label",
        "test phone",
        "--lang",
        "en",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("Credential ID: MAMO"), "{printed}");
    assert!(
        !printed.contains("otpauth://"),
        "the secret only with --show-secret: {printed}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(platform.token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    start_early_in_a_step(&platform);
    // A phone 30 s slow registers with the previous step's code: within the bank's window.
    let (credential_id, previous, _) = code(&platform, &["--clock-offset", "-30"]);
    let user = platform.create_user("8000001");
    platform.register(&user, &credential_id, &previous);

    // The token's banks, after the current code (which the listing spends).
    let out = platform.token(&["banks", "--lang", "en"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let banks = stdout(&out);
    assert!(
        banks.contains("is registered at 1 bank(s)")
            && banks.contains(BANK)
            && banks.contains("Kitakyushu Bank")
            && banks.contains("in use"),
        "{banks}"
    );

    // The code the listing spent cannot log in; the next step's code (a phone 30 s fast) can.
    let (_, current, _) = code(&platform, &[]);
    let (status, body) = platform.bank(
        "POST",
        &format!("/users/{user}/otp/verify"),
        Some(&json!({ "otp": current })),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("otp_already_used")),
        "{body}"
    );
    let (_, next, _) = code(&platform, &["--clock-offset", "30"]);
    let (status, body) = platform.bank(
        "POST",
        &format!("/users/{user}/otp/verify"),
        Some(&json!({ "otp": next })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["credential_id"], credential_id.as_str());

    let out = platform.token(&["list", "--lang", "en"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(
        listed.contains(&credential_id)
            && listed.contains(&platform.server_url())
            && listed.contains("test phone")
            && listed.contains("device key: yes"),
        "{listed}"
    );
    let screen = stdout(&platform.token(&["code"]));
    assert!(
        screen.starts_with(&format!("{credential_id}  ")) && screen.contains(" s left"),
        "{screen}"
    );
}

/// The bank asks for a push approval of a transfer; the token shows it and approves it.
///
/// The server side of push approval (createPushApproval, the token's approvals listing and
/// answer) is built on another branch: until it is merged this test fails at
/// createPushApproval.
#[test]
fn token_cli_approves_a_push() {
    let platform = Platform::start();
    let out = platform.token(&["provision", "--server", &platform.server_url()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (credential_id, current, _) = code(&platform, &[]);
    let user = platform.create_user("8000002");
    platform.register(&user, &credential_id, &current);

    let (status, created) = platform.bank(
        "POST",
        &format!("/users/{user}/push-approvals"),
        Some(&json!({
            "transaction": {
                "kind": "transfer",
                "amount": "150000",
                "currency": "JPY",
                "payee": {
                    "bank_code": "0191",
                    "branch_code": "001",
                    "account_number": "1234567",
                    "account_name": "ｷﾀｷｭｳ ﾊﾅｺ",
                },
            },
            "display": {
                "ja": "ｷﾀｷｭｳ ﾊﾅｺ 様へ 150,000円 の振込",
                "en": "Transfer of 150,000 yen to ｷﾀｷｭｳ ﾊﾅｺ",
            },
        })),
    );
    assert_eq!(status, 201, "createPushApproval: {created}");
    let approval_id = created["approval_id"].as_str().unwrap().to_owned();

    let out = platform.token(&[
        "approvals",
        "--once",
        "--answer",
        "approve",
        "--wait",
        "10",
        "--lang",
        "en",
    ]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{shown}\n{}", stderr(&out));
    for part in [
        "Kitakyushu Bank",
        "Transfer",
        "150,000 JPY",
        "ｷﾀｷｭｳ ﾊﾅｺ  bank 0191  branch 001  account 1234567",
        "Transfer of 150,000 yen to ｷﾀｷｭｳ ﾊﾅｺ",
        "Result: approved",
    ] {
        assert!(shown.contains(part), "{part} missing:\n{shown}");
    }

    let (status, approval) = platform.bank("GET", &format!("/push-approvals/{approval_id}"), None);
    assert_eq!(status, 200, "{approval}");
    assert_eq!(approval["status"], "approved", "{approval}");
    assert!(
        !approval["receipt"].is_null(),
        "an approved push has a receipt: {approval}"
    );
}

/// Codes, activation passwords and approvals never cross a network in clear: plain `http://`
/// is refused, before anything is sent, unless the server is this machine (127.0.0.0/8, ::1,
/// localhost). That holds for a server named on the command line and for one stored in the
/// token file.
#[test]
fn token_cli_refuses_plain_http_to_another_machine() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.json");
    let refused = |out: &Output, server: &str| {
        let text = stderr(out);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains(server)
                && text.contains("refusing plain http://")
                && text.contains("use https://"),
            "{text}"
        );
        assert!(!text.contains("cannot reach"), "nothing is sent: {text}");
    };
    for server in [
        "http://mamori.example:8080",
        "http://10.0.0.5:8080",
        "http://localhost.mamori.example",
        "http://[2001:db8::1]:8080",
    ] {
        refused(
            &token_with_file(&file, &["provision", "--server", server, "--lang", "en"]),
            server,
        );
        refused(
            &token_with_file(
                &file,
                &[
                    "activate",
                    "--server",
                    server,
                    "--service-id",
                    BANK,
                    "--user-id",
                    "u_1",
                    "--lang",
                    "en",
                ],
            ),
            server,
        );
    }
    assert!(!file.exists(), "no credential kept");

    // This machine over http is fine; the same token moved to another host over http is not.
    let platform = Platform::start();
    let out = platform.token(&["provision", "--server", &platform.server_url()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let local = platform.server_url();
    let remote = local.replace("127.0.0.1", "mamori.example");
    let text = std::fs::read_to_string(platform.token_file()).unwrap();
    assert!(text.contains(&local), "{text}");
    std::fs::write(platform.token_file(), text.replace(&local, &remote)).unwrap();
    refused(&platform.token(&["banks", "--lang", "en"]), &remote);
    refused(
        &platform.token(&["approvals", "--once", "--wait", "0", "--lang", "en"]),
        &remote,
    );
}

/// No token file, a broken one or one others can read: a clear message and a failure exit,
/// never a panic.
#[test]
fn token_code_without_a_usable_file_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.json");
    let no_panic = |out: &Output| {
        let text = stderr(out);
        assert!(!out.status.success(), "{text}");
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "{text}"
        );
        text
    };

    let missing = no_panic(&token_with_file(&file, &["code"]));
    assert!(
        missing.contains("no token yet") && missing.contains("mamori token provision --server URL"),
        "{missing}"
    );

    std::fs::write(&file, "{\"version\": 1, \"credentials\": [").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let corrupt = no_panic(&token_with_file(&file, &["code"]));
    assert!(
        corrupt.contains(&file.display().to_string())
            && corrupt.contains("not a valid token file")
            && corrupt.contains("EOF while parsing"),
        "{corrupt}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&file, "{\"version\": 1, \"credentials\": []}").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let exposed = no_panic(&token_with_file(&file, &["code"]));
        assert!(
            exposed.contains("can be read by other users") && exposed.contains("chmod 600"),
            "{exposed}"
        );
    }
}

/// Several `mamori token provision` at once (the customer sets up two banks' tokens in two
/// terminals): each reads, changes and writes the token file under an exclusive lock, so no
/// run's credential is lost to another's write.
#[test]
fn concurrent_provisions_keep_every_credential() {
    let platform = Platform::start();
    let server = platform.server_url();
    let file = platform.token_file();
    let runs: Vec<_> = (0..6)
        .map(|i| {
            MAMORI
                .command()
                .arg("token")
                .args(["provision", "--server", &server, "--lang", "en"])
                .args(["--label", &format!("phone {i}")])
                .env("MAMORI_TOKEN_FILE", &file)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut provisioned: Vec<String> = runs
        .into_iter()
        .map(|run| {
            let out = run.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
                .lines()
                .find_map(|line| line.strip_prefix("Credential ID: "))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    provisioned.sort();

    let kept: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let mut kept: Vec<String> = kept["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["credential_id"].as_str().unwrap().to_owned())
        .collect();
    kept.sort();
    assert_eq!(
        kept, provisioned,
        "every provisioned credential is in the file"
    );
    let out = platform.token(&["list", "--lang", "en"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
