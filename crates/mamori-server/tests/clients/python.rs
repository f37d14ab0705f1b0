//! The Python side: a virtualenv with the pinned tools, the client openapi-python-client
//! generates, and the spec linter.
//!
//! The virtualenv lives in `<target dir>/clients-python/venv` and is (re)made by the test when
//! `tests/clients/requirements.txt` or the Python version changes, so `cargo test` alone works
//! on a fresh clone, a developer's machine and CI alike, and a stale or half-made environment
//! (an interrupted install) is never used: the stamp is written last. Concurrent test processes
//! on one target dir take turns through a lock file.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use mamori_testkit::repo_root;

use crate::node::output_text;
use crate::{artifacts_dir, operation_ids, spec_path, target_dir};

const HOW_TO_INSTALL: &str = "The generated-client tests need Python >= 3.11 with its `venv` \
module and pip (on Debian: `apt-get install python3 python3-venv`; .ci/run installs them), \
and PyPI to install tests/clients/requirements.txt into a virtualenv in the cargo target dir. \
Set MAMORI_PYTHON to use another interpreter than `python3`.";

/// The package openapi-python-client names after the spec's title.
pub const PACKAGE: &str = "mamori_api_client";

/// `tests/clients/` of the repository.
pub fn clients_dir() -> PathBuf {
    repo_root().join("tests").join("clients")
}

/// The interpreter that makes the virtualenv.
fn base_python() -> String {
    std::env::var("MAMORI_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// A program of the virtualenv, with the virtualenv first on `PATH` (the generator runs `ruff`
/// from `PATH`) and no colours or terminal widths in its output.
pub fn venv_command(program: &str) -> Command {
    let bin = venv().join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.clone()];
    paths.extend(std::env::split_paths(&path));
    let mut cmd = Command::new(bin.join(program));
    cmd.env("PATH", std::env::join_paths(paths).unwrap())
        .env("VIRTUAL_ENV", venv())
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env("COLUMNS", "200")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME");
    cmd
}

/// The virtualenv with the pinned tools, made once per test process.
pub fn venv() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(make_venv)
        .clone()
        .unwrap_or_else(|why| panic!("{why}"))
}

fn run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|err| format!("{what}: {err}. {HOW_TO_INSTALL}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what} failed:\n{}\n{HOW_TO_INSTALL}",
            output_text(&out)
        ))
    }
}

fn make_venv() -> Result<PathBuf, String> {
    let home = target_dir().join("clients-python");
    std::fs::create_dir_all(&home).map_err(|err| format!("{}: {err}", home.display()))?;
    let lock = std::fs::File::create(home.join("lock")).map_err(|err| err.to_string())?;
    lock.lock()
        .map_err(|err| format!("lock {}: {err}", home.display()))?;

    let python = base_python();
    let version = run(
        Command::new(&python).args(["-c", "import sys; print(sys.version)"]),
        &format!("`{python}`"),
    )?;
    let requirements_path = clients_dir().join("requirements.txt");
    let requirements = std::fs::read(&requirements_path)
        .map_err(|err| format!("{}: {err}", requirements_path.display()))?;
    // What the virtualenv was made from: the interpreter's version and the pinned list.
    let stamp = [version.stdout, requirements].concat();

    let venv = home.join("venv");
    let stamp_path = home.join("stamp");
    if venv.join("bin").join("python").exists()
        && std::fs::read(&stamp_path).is_ok_and(|s| s == stamp)
    {
        return Ok(venv);
    }
    let started = Instant::now();
    let _ = std::fs::remove_file(&stamp_path);
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new(&python).arg("-m").arg("venv").arg(&venv),
        &format!("`{python} -m venv`"),
    )?;
    let pip = venv.join("bin").join("pip");
    run(
        Command::new(&pip)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--no-deps",
                "-r",
            ])
            .arg(&requirements_path),
        "pip install -r tests/clients/requirements.txt",
    )?;
    // --no-deps installs exactly the pinned list; `pip check` says if it is not whole.
    run(
        Command::new(&pip).args(["check", "--disable-pip-version-check"]),
        "pip check (tests/clients/requirements.txt misses a dependency)",
    )?;
    std::fs::write(&stamp_path, stamp).map_err(|err| err.to_string())?;
    eprintln!(
        "made {} from tests/clients/requirements.txt in {:.1} s",
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(venv)
}

/// `<target dir>/generated-clients/python`, where the client was generated once per test
/// process, exactly as the README tells integrators (into `mamori-api-client/`).
pub fn generated_client() -> PathBuf {
    static CLIENT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CLIENT
        .get_or_init(generate)
        .clone()
        .unwrap_or_else(|why| panic!("{why}"))
}

fn generate() -> Result<PathBuf, String> {
    let out_dir = artifacts_dir("python");
    let started = Instant::now();
    let out = venv_command("openapi-python-client")
        .current_dir(&out_dir)
        .args(["generate", "--path"])
        .arg(spec_path())
        .arg("--fail-on-warning")
        .output()
        .map_err(|err| format!("openapi-python-client: {err}"))?;
    // The whole output stays beside the client; a failure shows its beginning.
    let text = output_text(&out);
    let log = out_dir.join("generate.log");
    std::fs::write(&log, &text).map_err(|err| format!("{}: {err}", log.display()))?;
    let head = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let more = lines.len().saturating_sub(40);
        let mut head = lines[..lines.len().min(40)].join("\n");
        if more > 0 {
            head.push_str(&format!("\n… {more} more lines in {}", log.display()));
        }
        head
    };
    if !out.status.success() {
        return Err(format!("openapi-python-client failed:\n{}", head(&text)));
    }
    // It says "Generating <path>" and nothing else; anything more is a warning (a skipped
    // schema or endpoint, a post-hook that did not run).
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let said: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|line| !line.trim().is_empty() && !line.starts_with("Generating "))
        .collect();
    if !said.is_empty() {
        return Err(format!(
            "openapi-python-client warned:\n{}",
            head(&said.join("\n"))
        ));
    }
    eprintln!(
        "openapi-python-client generated {} in {:.1} s",
        out_dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(out_dir)
}

/// The generated project, whose folder `mamori_api_client` is the package: what goes on
/// `PYTHONPATH`.
pub fn python_path() -> PathBuf {
    generated_client().join("mamori-api-client")
}

#[test]
fn the_spec_passes_openapi_spec_validator() {
    let out = venv_command("openapi-spec-validator")
        .arg(spec_path())
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "openapi-spec-validator:\n{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!("{}: OK", spec_path().display()),
        "openapi-spec-validator said more than OK:\n{text}"
    );
    assert!(out.stderr.is_empty(), "openapi-spec-validator:\n{text}");
}

#[test]
fn the_python_client_has_every_operation_with_typed_responses() {
    let package = python_path().join(PACKAGE);
    assert!(package.join("client.py").is_file(), "{}", package.display());
    let out = venv_command("python")
        .arg(clients_dir().join("check_python_client.py"))
        .arg(spec_path())
        .arg(&package)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "the generated Python client ({}) is not what the spec says:\n{text}",
        package.display()
    );
    let checked = format!("{} operations checked, 0 faults", operation_ids().len());
    assert!(text.contains(&checked), "{text}");
}
