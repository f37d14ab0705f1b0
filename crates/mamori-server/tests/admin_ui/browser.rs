//! The console in a real browser: the Playwright suite of `web-admin/e2e` against a real
//! `mamori serve`, once on SQLite and once on PostgreSQL, in Debian's headless Chromium. The
//! suite signs in as the first platform admin with the one-time password the server printed
//! on its standard output at its first start, as an operator would read it from the terminal.
//! Screenshots of every page in Japanese and English are left in
//! `<target dir>/browser-artifacts/<engine>/screenshots/`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mamori_testkit::{Server, TestDb, TestEngine};

use crate::MAMORI;
use crate::node::{ensure_installed, in_web_admin, output_text};

/// The pages the suite must have photographed, in each language.
const SCREENSHOTS: &[&str] = &[
    "sign-in",
    "sign-in-failed",
    "not-found",
    "setup-password",
    "setup-password-rejected",
    "setup-totp",
    "banks",
    "bank-new",
    "bank",
    "bank-policy",
    "bank-policy-file",
    "customers",
    "customer",
    "reason-dialog",
    "credential",
    "audit",
    "operators",
    "outbox",
    "customer-not-found",
];

/// One engine's suite at a time: the machine has two cores, and the timings stay readable.
static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::new(());

fn chromium() -> PathBuf {
    let path = std::env::var_os("MAMORI_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: the admin console's browser tests need Debian's Chromium and Japanese \
         fonts: `apt-get install -y --no-install-recommends chromium fonts-noto-cjk` \
         (.ci/run installs them), or set MAMORI_CHROMIUM to another Chromium",
        path.display()
    );
    let cjk = Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
    assert!(
        cjk.exists(),
        "{} not found: Japanese text would not render in the screenshots: \
         `apt-get install -y --no-install-recommends fonts-noto-cjk` (.ci/run installs it)",
        cjk.display()
    );
    path
}

/// `<target dir>/browser-artifacts/<engine>`, emptied.
fn artifacts_dir(engine: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let dir = target.join("browser-artifacts").join(engine);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The first platform admin's login and one-time password, from the block `mamori serve`
/// prints on its standard output at its first start (`login:` …, `one-time password:` …).
fn first_admin(server: &Server) -> (String, String) {
    let value_of = |output: &str, label: &str| {
        output
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|value| value.trim().to_owned())
    };
    // The block is printed before the server listens; give the pipe a moment to be read.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let output = server.stdout();
        if let (Some(login), Some(password)) = (
            value_of(&output, "login:"),
            value_of(&output, "one-time password:"),
        ) {
            return (login, password);
        }
        assert!(
            Instant::now() < deadline,
            "mamori serve printed no first admin's one-time password on its first start:\n\
             --- stdout\n{output}\n--- logs\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_suite(engine: &str, database_url: &str) {
    let chromium = chromium();
    ensure_installed();
    let _one = ONE_BROWSER_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = MAMORI.serve().database_url(database_url).start();
    let (login, password) = first_admin(&server);
    let artifacts = artifacts_dir(engine);

    let started = Instant::now();
    let out = in_web_admin("npx")
        .args(["--no", "playwright", "test"])
        .env("MAMORI_BASE_URL", server.base_url())
        .env("MAMORI_FIRST_ADMIN_LOGIN", &login)
        .env("MAMORI_FIRST_ADMIN_PASSWORD", &password)
        .env("MAMORI_ARTIFACTS_DIR", &artifacts)
        .env("MAMORI_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "the browser suite failed on {engine} (artifacts in {}):\n{}\n--- mamori serve\n{}",
        artifacts.display(),
        output_text(&out),
        server.logs()
    );
    eprintln!(
        "admin console browser suite on {engine}: {:.1} s; screenshots in {}",
        elapsed.as_secs_f64(),
        artifacts.join("screenshots").display()
    );
    for page in SCREENSHOTS {
        for lang in ["ja", "en"] {
            let shot = artifacts
                .join("screenshots")
                .join(format!("{page}-{lang}.png"));
            assert!(shot.is_file(), "{} was not taken", shot.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_browser_on_sqlite() {
    let db = TestDb::create(TestEngine::Sqlite).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || run_suite("sqlite", &url))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_browser_on_postgres() {
    let db = TestDb::create(TestEngine::Postgres).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || run_suite("postgres", &url))
        .await
        .unwrap();
}
