//! The bank's contract as banks consume it: clients generated from the committed
//! `openapi/mamori.json` by openapi-python-client (PyPI) and openapi-typescript (npm) with no
//! warning and every operation present, the Python client's responses all typed (a model per
//! documented status, `Problem` for every error), the spec clean under
//! openapi-spec-validator, and one bank flow driven through the generated Python client
//! against a real `mamori serve` on SQLite and on PostgreSQL. (progenitor, the Rust
//! generator, is checked at build time by `tests/clients/progenitor`.)
//!
//! Needs Python >= 3.11 with `venv` and pip, and Node.js with npm (for openapi-typescript, a
//! devDependency of web-admin/). The Python tools are installed by the test itself, pinned in
//! `tests/clients/requirements.txt`, into a virtualenv in the cargo target dir. A missing tool
//! fails the test and says what to install; it never skips. The generated clients are left in
//! `<target dir>/generated-clients/`.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mamori_testkit::{Mamori, repo_root};
use serde_json::Value;

mod flow;
#[path = "../admin_ui/node.rs"]
mod node;
mod python;
mod typescript;

/// The `mamori` binary under test.
const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));

/// The committed spec, as banks download it.
fn spec_path() -> PathBuf {
    repo_root().join("openapi").join("mamori.json")
}

/// The committed spec, parsed.
fn spec() -> Value {
    serde_json::from_str(&std::fs::read_to_string(spec_path()).unwrap()).unwrap()
}

/// Every operationId of the spec.
fn operation_ids() -> BTreeSet<String> {
    let spec = spec();
    let ids: BTreeSet<String> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    assert!(ids.len() > 60, "only {} operations in the spec", ids.len());
    ids
}

/// `<target dir>/generated-clients/<name>`, emptied.
fn artifacts_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("generated-clients").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The cargo target dir (for this profile's tests, its parent).
fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap()
}
