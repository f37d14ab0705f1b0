//! Hardware tokens from a vendor's seed file: a platform admin checks, then imports a PSKC
//! file encrypted with a pre-shared key; a bank registers a token by its serial and the
//! customer logs in with it. A file with any fault imports nothing and says which line is
//! wrong, never quoting a secret; two imports of one file race to exactly one success.

use mamori_domain::OperatorRole;
use mamori_testkit::{Admin, TestApp, TestEngine, TestToken, on_both_engines};
use serde_json::{Value, json};

const BANK: &str = "jonan-shinkin";
/// python-pskc's file: TOTP FT20000001 (RFC 6238's SHA-1 secret), TOTP FT20000002 (SHA-256,
/// 8 digits, 60 s), HOTP FT20000003 (counter 5); AES-256-CBC under the bytes 0..32.
const PSKC: &str = include_str!("../../crates/mamori-import/tests/data/python-pskc-aes256.pskcxml");
const PSK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// RFC 6238's SHA-1 secret, `12345678901234567890`, in base32.
const FT20000001_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn pskc_import(check_only: bool) -> Value {
    json!({ "format": "pskc", "content": PSKC, "pre_shared_key": PSK, "check_only": check_only })
}

async fn credential_status(admin: &Admin<'_>, id: &str) -> u16 {
    admin
        .get(&format!("/v1/admin/credentials/{id}"))
        .await
        .status
}

async fn a_checked_then_imported_token_registers_and_logs_in_by_its_serial(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;

    let checked = admin
        .post("/v1/admin/token-imports", pskc_import(true))
        .await;
    assert_eq!(checked.status, 200, "{:?}", checked.body);
    assert_eq!(checked.body["stored"], false);
    assert_eq!(checked.body["count"], 3);
    let second = &checked.body["tokens"][1];
    assert_eq!(second["credential_id"], "FT20000002");
    assert_eq!(second["algorithm"], "SHA256");
    assert_eq!(second["digits"], 8);
    assert_eq!(second["period"], 60);
    assert_eq!(checked.body["tokens"][2]["kind"], "hotp");
    assert_eq!(
        credential_status(&admin, "FT20000001").await,
        404,
        "checking stores nothing"
    );

    let imported = admin
        .post("/v1/admin/token-imports", pskc_import(false))
        .await;
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    assert_eq!(imported.body["stored"], true);
    assert!(!imported.text.contains(FT20000001_SECRET) && !imported.text.contains("MTIz"));
    let credential = admin.get("/v1/admin/credentials/FT20000001").await;
    assert_eq!(credential.status, 200, "{:?}", credential.body);
    assert_eq!(credential.body["kind"], "totp");

    // The bank registers it by the serial as the customer types it, and it logs them in.
    let bank = app.bank(BANK).await;
    let user = bank.create_user("5000001", None).await;
    let token = TestToken::new("FT20000001", FT20000001_SECRET);
    let reg = bank
        .post(
            &format!("/users/{user}/credential"),
            json!({ "credential_id": "ft-2000-0001", "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(reg.status, 201, "{:?}", reg.body);
    assert_eq!(reg.body["credential_id"], "FT20000001", "{:?}", reg.body);
    app.next_step();
    let login = bank
        .post(
            &format!("/users/{user}/otp/verify"),
            json!({ "otp": token.code_at(app.now_unix()) }),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    // Each token is in the platform's trail with the file's hash, and the chain holds.
    let trail = admin
        .get("/v1/admin/audit-events?trail=platform&operation=importCredential")
        .await;
    assert_eq!(trail.status, 200, "{:?}", trail.body);
    let entries = trail.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{:?}", trail.body);
    assert!(
        entries.iter().all(|e| {
            let details: Value = serde_json::from_str(e["details"].as_str().unwrap()).unwrap();
            details["file_sha256"] == imported.body["file_sha256"] && e["actor"] == "operator:admin"
        }),
        "{entries:?}"
    );
    let chain = admin
        .get("/v1/admin/audit-events/verify?trail=platform")
        .await;
    assert_eq!(chain.body["intact"], true, "{:?}", chain.body);
}
on_both_engines!(a_checked_then_imported_token_registers_and_logs_in_by_its_serial);

async fn a_file_with_any_fault_imports_nothing_and_names_each_line(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let imported = admin
        .post("/v1/admin/token-imports", pskc_import(false))
        .await;
    assert_eq!(imported.status, 200, "{:?}", imported.body);

    // A taken serial on line 3 and a short secret on line 4 refuse the new token on line 2.
    let csv = "serial,secret,type,digits,period\n\
               SN00000001,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,totp,6,30\n\
               FT20000001,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,totp,6,30\n\
               SN00000003,JBSWY3DP,totp,6,30\n";
    let refused = admin
        .post(
            "/v1/admin/token-imports",
            json!({ "format": "csv", "content": csv }),
        )
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "import_invalid");
    let faults: Vec<(u64, &str)> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    // The file's own faults first; the serials taken in the database only once it is sound.
    assert_eq!(faults, [(4, "secret_length")]);
    let fixed = csv.replace(
        "SN00000003,JBSWY3DP,",
        "SN00000003,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,",
    );
    let taken = admin
        .post(
            "/v1/admin/token-imports",
            json!({ "format": "csv", "content": fixed }),
        )
        .await;
    assert_eq!(taken.status, 422, "{:?}", taken.body);
    assert_eq!(taken.body["errors"][0]["line"], 3);
    assert_eq!(taken.body["errors"][0]["code"], "serial_taken");
    assert_eq!(credential_status(&admin, "SN00000001").await, 404);

    // A wrong pre-shared key is told apart from a damaged file only as far as it can be.
    let wrong_key = admin
        .post(
            "/v1/admin/token-imports",
            json!({ "format": "pskc", "content": PSKC.replace("FT2", "FT4"), "pre_shared_key": "ff".repeat(32) }),
        )
        .await;
    assert_eq!(wrong_key.status, 422, "{:?}", wrong_key.body);
    let code = wrong_key.body["errors"][0]["code"].as_str().unwrap();
    assert!(["decrypt_failed", "mac_mismatch"].contains(&code), "{code}");
    assert_eq!(credential_status(&admin, "FT40000001").await, 404);

    let bad_key = admin
        .post(
            "/v1/admin/token-imports",
            json!({ "format": "pskc", "content": PSKC, "pre_shared_key": "not hex" }),
        )
        .await;
    assert_eq!(bad_key.status, 400, "{:?}", bad_key.body);
    assert_eq!(bad_key.body["code"], "validation_failed");

    // In Japanese, each fault in Japanese.
    let ja = admin
        .send_in(
            "ja",
            "POST",
            "/v1/admin/token-imports",
            Some(json!({ "format": "csv", "content": fixed })),
        )
        .await;
    assert_eq!(
        ja.body["errors"][0]["message"],
        "このシリアル番号のトークンは登録済みです。"
    );
}
on_both_engines!(a_file_with_any_fault_imports_nothing_and_names_each_line);

async fn two_imports_of_one_file_race_to_exactly_one(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let node = app.another_node();
    let session = admin.session_headers();
    let (a, b) = tokio::join!(
        admin.post("/v1/admin/token-imports", pskc_import(false)),
        node.call_with_headers(
            "POST",
            "/v1/admin/token-imports",
            None,
            &session,
            Some(pskc_import(false)),
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422], "{:?} {:?}", a.body, b.body);
    let loser = if a.status == 422 { &a } else { &b };
    assert_eq!(
        loser.body["errors"][0]["code"], "serial_taken",
        "{:?}",
        loser.body
    );
    let trail = admin
        .get("/v1/admin/audit-events?trail=platform&operation=importCredential")
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 3);
}
on_both_engines!(two_imports_of_one_file_race_to_exactly_one);

async fn only_a_platform_admin_imports(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    for (login, role, bank) in [
        ("jonan-desk", OperatorRole::BankOperator, Some(BANK)),
        ("auditor", OperatorRole::Auditor, None),
    ] {
        let operator = app.operator(login, role, bank).await;
        let refused = operator
            .post("/v1/admin/token-imports", pskc_import(false))
            .await;
        assert_eq!(refused.status, 403, "{login}: {:?}", refused.body);
        assert_eq!(refused.body["code"], "forbidden");
    }
    let anonymous = app
        .call(
            "POST",
            "/v1/admin/token-imports",
            None,
            Some(pskc_import(false)),
        )
        .await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
    assert_eq!(credential_status(&admin, "FT20000001").await, 404);
}
on_both_engines!(only_a_platform_admin_imports);

/// A delivery of 1,500 tokens (about 100 KB, beyond any other request's limit) in one import:
/// every token stored, each audited, the chain intact.
async fn a_large_delivery_imports_whole(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let mut csv = String::from("serial,secret_hex,type,digits,period\n");
    for i in 0..1500 {
        csv.push_str(&format!(
            "VD{i:08},{:040x},totp,6,30\n",
            0x1234_5678_9abc_def0_u128 + i
        ));
    }
    assert!(csv.len() > 64 * 1024);
    let imported = admin
        .post(
            "/v1/admin/token-imports",
            json!({ "format": "csv", "content": csv }),
        )
        .await;
    assert_eq!(imported.status, 200, "{:?}", imported.body["errors"]);
    assert_eq!(imported.body["count"], 1500);
    assert_eq!(credential_status(&admin, "VD00001499").await, 200);
    let chain = admin
        .get("/v1/admin/audit-events/verify?trail=platform")
        .await;
    assert_eq!(chain.body["intact"], true, "{:?}", chain.body);
    assert!(
        chain.body["entries"].as_u64().unwrap() >= 1500,
        "{:?}",
        chain.body
    );
}
on_both_engines!(a_large_delivery_imports_whole);
