//! Secrets at rest: a token's secret and a bank's API key never appear in the database in any
//! usual encoding — only sealed or hashed. The whole database is read raw (the SQLite file and
//! its WAL; a `pg_dump` of the PostgreSQL database).

use data_encoding::{
    BASE32, BASE32_NOPAD, BASE64, BASE64_NOPAD, BASE64URL_NOPAD, HEXLOWER, HEXUPPER,
};
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use serde_json::json;

/// Every byte of the test's database as it sits on disk / as the server dumps it.
fn raw_database(app: &TestApp) -> Vec<u8> {
    let url = &app.test_db.url;
    match app.test_db.engine {
        TestEngine::Sqlite => {
            let path = url
                .strip_prefix("sqlite://")
                .and_then(|rest| rest.split('?').next())
                .unwrap();
            let mut bytes = std::fs::read(path).unwrap();
            for suffix in ["-wal", "-journal"] {
                if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                    bytes.extend(more);
                }
            }
            bytes
        }
        TestEngine::Postgres => {
            let out = std::process::Command::new("/usr/bin/pg_dump")
                .arg(format!("--dbname={url}"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The forms a secret could be stored in by mistake.
fn encodings(secret: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("raw bytes", secret.to_vec()),
        ("lowercase hex", HEXLOWER.encode(secret).into_bytes()),
        ("uppercase hex", HEXUPPER.encode(secret).into_bytes()),
        ("base32", BASE32_NOPAD.encode(secret).into_bytes()),
        ("base32 padded", BASE32.encode(secret).into_bytes()),
        (
            "lowercase base32",
            BASE32_NOPAD.encode(secret).to_lowercase().into_bytes(),
        ),
        ("base64", BASE64.encode(secret).into_bytes()),
        ("base64 unpadded", BASE64_NOPAD.encode(secret).into_bytes()),
        ("base64url", BASE64URL_NOPAD.encode(secret).into_bytes()),
    ]
}

/// A provisioned and registered token's secret, and the bank's API key, are nowhere in the
/// database in clear (raw, hex, base32, base64); the credential ID, which is public, is — so
/// the search does read the stored data.
async fn secrets_are_never_stored_in_clear(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank("jonan-shinkin").await;
    let user = bank.create_user("8000001", None).await;
    let provisioned = app
        .call("POST", "/v1/token/credentials", None, Some(json!({})))
        .await;
    assert_eq!(provisioned.status, 201, "{:?}", provisioned.body);
    let credential_id = provisioned.body["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_text = provisioned.body["secret"].as_str().unwrap().to_owned();
    let secret = BASE32_NOPAD
        .decode(secret_text.trim_end_matches('=').as_bytes())
        .unwrap();
    assert!(secret.len() >= 16, "a real secret: {secret_text}");
    let token = mamori_testkit::TestToken::new(&credential_id, &secret_text);
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": credential_id, "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    app.next_step();
    let login = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    let stored = raw_database(&app);
    // The search works: public facts are found.
    assert!(
        contains(&stored, credential_id.as_bytes()),
        "the credential ID is stored in clear, so the dump must contain it"
    );
    assert!(contains(&stored, user.as_bytes()), "the user ID is stored");

    for (form, needle) in encodings(&secret) {
        assert!(
            !contains(&stored, &needle),
            "the token secret is stored as {form}"
        );
    }
    // The API key `mmr_<prefix>_<secret>`: neither the whole key nor its secret part.
    let key_secret = bank.key.rsplit('_').next().unwrap();
    assert!(key_secret.len() >= 16, "{}", bank.key);
    assert!(
        !contains(&stored, bank.key.as_bytes()),
        "the API key is stored in clear"
    );
    assert!(
        !contains(&stored, key_secret.as_bytes()),
        "the API key's secret part is stored in clear"
    );
}
on_both_engines!(secrets_are_never_stored_in_clear);
