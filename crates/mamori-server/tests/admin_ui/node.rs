//! Node.js and npm for building and testing the console: found, or the test fails saying how
//! to get them; `npm ci` once per test run when `web-admin/node_modules` is missing.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use mamori_testkit::repo_root;

const HOW_TO_INSTALL: &str = "The admin console (web-admin/) is built and tested with Node.js >= 20.19 \
and npm >= 11: install them (on Debian, e.g. the `nodejs` package from NodeSource, which \
ships npm; then `npm install -g npm@11`), then run `npm ci --prefix web-admin`. .ci/run does the \
`npm ci` before the tests.";

/// The `web-admin` folder.
pub fn web_admin() -> PathBuf {
    repo_root().join("web-admin")
}

/// A command run in `web-admin/`, without colours in its output.
pub fn in_web_admin(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(web_admin())
        .env("FORCE_COLOR", "0")
        .env("NO_COLOR", "1")
        .env_remove("npm_config_prefix");
    cmd
}

/// Makes sure npm is there and `web-admin/node_modules` is installed (`npm ci`, once).
pub fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        let version = in_web_admin("npm")
            .arg("--version")
            .output()
            .map_err(|err| format!("npm not found ({err}). {HOW_TO_INSTALL}"))?;
        if !version.status.success() {
            return Err(format!("`npm --version` failed. {HOW_TO_INSTALL}"));
        }
        if web_admin().join("node_modules").is_dir() {
            return Ok(());
        }
        let out = in_web_admin("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .output()
            .map_err(|err| format!("npm ci: {err}. {HOW_TO_INSTALL}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`npm ci` in web-admin failed:\n{}",
                output_text(&out)
            ))
        }
    });
    if let Err(why) = result {
        panic!("{why}");
    }
}

/// A command's standard output and error, for failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
