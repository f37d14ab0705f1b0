//! One bank flow through the generated Python client against a real `mamori serve`: create a
//! user, provision a token, register it, a wrong code read as a typed `Problem`, a login, a
//! replay (`tests/clients/flow.py`). On SQLite and on PostgreSQL.

use mamori_testkit::{TestDb, TestEngine, shipped_tenant_configs};

use crate::MAMORI;
use crate::node::output_text;
use crate::python::{clients_dir, python_path, venv_command};

/// A shipped bank that registers a token with one code.
const BANK: &str = "kitakyushu-bank";

fn run_flow(engine: &str, database_url: &str) {
    let python_path = python_path();
    let work = tempfile::tempdir().unwrap();
    let out = MAMORI
        .command()
        .current_dir(work.path())
        .args([
            "api-keys",
            "create",
            "--tenant",
            BANK,
            "--label",
            "generated client",
        ])
        .args(["--database-url", database_url])
        .env("MAMORI_TENANT_CONFIGS", shipped_tenant_configs())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "api-keys create:\n{}",
        output_text(&out)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let server = MAMORI
        .serve()
        .work_dir(work.path())
        .database_url(database_url)
        .start();

    let out = venv_command("python")
        .arg(clients_dir().join("flow.py"))
        .env("PYTHONPATH", &python_path)
        .env("MAMORI_BASE_URL", server.base_url())
        .env("MAMORI_BANK", BANK)
        .env("MAMORI_API_KEY", &key)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "the bank flow on the generated Python client failed on {engine} (client in {}):\n{text}\n\
         --- mamori serve\n{}",
        python_path.display(),
        server.logs()
    );
    assert!(text.contains("flow passed"), "{text}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_flow_through_the_generated_python_client_on_sqlite() {
    let db = TestDb::create(TestEngine::Sqlite).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || run_flow("sqlite", &url))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_flow_through_the_generated_python_client_on_postgres() {
    let db = TestDb::create(TestEngine::Postgres).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || run_flow("postgres", &url))
        .await
        .unwrap();
}
