//! Banks in the admin console: file-managed banks are read-only and offered as TOML; a bank
//! made in the console has its policy validated like `mamori tenants check`, saved with a
//! reason as a new version (an edit saved meanwhile wins), suspended and resumed; its API keys
//! are created once, listed and revoked; and a bank's operator sees only their bank.

use mamori_domain::OperatorRole;
use mamori_testkit::{TestApp, TestEngine, on_both_engines, shipped_tenant_configs};
use serde_json::json;

fn shipped_toml(bank: &str) -> String {
    std::fs::read_to_string(shipped_tenant_configs().join(format!("{bank}.toml"))).unwrap()
}

/// A config for a new bank, made from a shipped one with other names.
fn new_bank_toml() -> String {
    shipped_toml("jonan-shinkin")
        .replace("城南信用金庫", "テスト信用金庫")
        .replace("Johnan Shinkin Bank", "Test Shinkin Bank")
}

async fn file_managed_banks_are_read_only_and_offered_as_toml(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let bank = admin.get("/v1/admin/banks/johoku-shinkin").await;
    assert_eq!(bank.status, 200, "{:?}", bank.body);
    assert_eq!(bank.body["bank"]["managed_by"], "file");
    assert_eq!(bank.body["bank"]["config_file"], "johoku-shinkin.toml");
    // Seed 002's bank: 6-character passwords that expire are flagged, not refused.
    let flags = bank.body["nist_flags"].to_string();
    assert!(
        flags.contains("password_shorter_than_8") && flags.contains("password_expiry"),
        "{flags}"
    );

    let toml = bank.body["policy_toml"]
        .as_str()
        .unwrap()
        .replace("lock_threshold = 10", "lock_threshold = 6");
    let review = admin
        .post(
            "/v1/admin/banks/johoku-shinkin/policy/review",
            json!({ "policy_toml": toml }),
        )
        .await;
    assert_eq!(review.status, 200, "{:?}", review.body);
    assert_eq!(review.body["valid"], true);
    let diff = review.body["diff"].as_str().unwrap();
    assert!(
        diff.contains("-lock_threshold = 10") && diff.contains("+lock_threshold = 6"),
        "{diff}"
    );
    // The file is what changes: the console does not save it.
    let save = admin
        .put(
            "/v1/admin/banks/johoku-shinkin/policy",
            json!({ "policy_toml": toml, "from_version": 1, "reason": "ロック回数変更" }),
        )
        .await;
    assert_eq!(
        (save.status, save.code()),
        (409, Some("bank_file_managed")),
        "{:?}",
        save.body
    );
    let unchanged = admin.get("/v1/admin/banks/johoku-shinkin").await;
    assert_eq!(unchanged.body["policy_toml"], bank.body["policy_toml"]);

    // A broken value reads as `mamori tenants check` says it.
    let broken = toml.replace("digits = 6", "digits = \"six\"");
    let review = admin
        .post(
            "/v1/admin/banks/johoku-shinkin/policy/review",
            json!({ "policy_toml": broken }),
        )
        .await;
    assert_eq!(review.body["valid"], false);
    assert_eq!(
        review.body["problems"][0]["text"],
        r#"johoku-shinkin.toml: otp.digits: expected an integer 6..=8, found "six""#
    );
}
on_both_engines!(file_managed_banks_are_read_only_and_offered_as_toml);

async fn a_console_bank_keeps_a_version_history_and_can_be_suspended(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let created = admin
        .post(
            "/v1/admin/banks",
            json!({ "id": "test-shinkin", "policy_toml": new_bank_toml(), "reason": "新規加盟" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["bank"]["managed_by"], "admin");
    assert_eq!(created.body["bank"]["name_ja"], "テスト信用金庫");
    let again = admin
        .post(
            "/v1/admin/banks",
            json!({ "id": "test-shinkin", "policy_toml": new_bank_toml(), "reason": "x" }),
        )
        .await;
    assert_eq!(
        again.code(),
        Some("bank_already_exists"),
        "{:?}",
        again.body
    );

    // Version 2, with who, when and why.
    let toml = created.body["policy_toml"]
        .as_str()
        .unwrap()
        .replace("lock_threshold = 10", "lock_threshold = 7");
    let saved = admin
        .put(
            "/v1/admin/banks/test-shinkin/policy",
            json!({ "policy_toml": toml, "from_version": 1, "reason": "監査指摘" }),
        )
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(saved.body["bank"]["policy_version"], 2);
    // An edit from the old version loses.
    let stale = admin
        .put(
            "/v1/admin/banks/test-shinkin/policy",
            json!({ "policy_toml": toml.replace("lock_threshold = 7", "lock_threshold = 8"), "from_version": 1, "reason": "x" }),
        )
        .await;
    assert_eq!(stale.code(), Some("validation_failed"), "{:?}", stale.body);
    let versions = admin
        .get("/v1/admin/banks/test-shinkin/policy/versions")
        .await;
    let items = versions.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{:?}", versions.body);
    assert_eq!(
        (items[0]["version"].as_i64(), items[0]["reason"].as_str()),
        (Some(2), Some("監査指摘"))
    );
    assert_eq!(items[0]["changed_by"], "operator:admin");
    assert!(
        items[0]["policy_toml"]
            .as_str()
            .unwrap()
            .contains("lock_threshold = 7")
    );
    // The bank's trail has the change and its diff.
    let trail = admin
        .get("/v1/admin/audit-events?trail=test-shinkin&operation=updateBankPolicy")
        .await;
    let details = trail.body["items"][0]["details"].as_str().unwrap();
    assert!(details.contains("+lock_threshold = 7"), "{details}");

    // The new bank works on the Bank API with a key made in the console …
    let key = admin
        .post(
            "/v1/admin/banks/test-shinkin/api-keys",
            json!({ "label": "IB" }),
        )
        .await;
    assert_eq!(key.status, 201, "{:?}", key.body);
    let key_text = key.body["key"].as_str().unwrap().to_owned();
    let path = "/v1/banks/test-shinkin/audit-events";
    assert_eq!(
        app.call("GET", path, Some(&key_text), None).await.status,
        200
    );
    // … stops while suspended, and works again once resumed.
    let suspended = admin
        .post(
            "/v1/admin/banks/test-shinkin/suspend",
            json!({ "reason": "契約停止" }),
        )
        .await;
    assert_eq!(suspended.status, 200, "{:?}", suspended.body);
    let refused = app.call("GET", path, Some(&key_text), None).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, Some("bank_suspended")),
        "{:?}",
        refused.body
    );
    let resumed = admin
        .post(
            "/v1/admin/banks/test-shinkin/resume",
            json!({ "reason": "契約再開" }),
        )
        .await;
    assert_eq!(resumed.status, 200);
    assert_eq!(
        app.call("GET", path, Some(&key_text), None).await.status,
        200
    );

    // Keys are listed without the secret and revoked with a reason.
    let keys = admin.get("/v1/admin/banks/test-shinkin/api-keys").await;
    let listed = keys.body["items"][0].clone();
    assert_eq!(listed["label"], "IB");
    assert!(
        !keys.text.contains(&key_text[13..]),
        "the secret is never listed"
    );
    let revoke = admin
        .post(
            &format!(
                "/v1/admin/banks/test-shinkin/api-keys/{}/revoke",
                listed["id"].as_str().unwrap()
            ),
            json!({ "reason": "漏えいの疑い" }),
        )
        .await;
    assert_eq!(revoke.status, 204, "{:?}", revoke.body);
    assert_eq!(
        app.call("GET", path, Some(&key_text), None).await.status,
        401
    );

    // A restart that finds a file for a console bank must not apply it.
    let mut configs = mamori_domain::tenant_config::load_dir(&shipped_tenant_configs()).unwrap();
    let mut file =
        mamori_domain::tenant_config::parse_tenant_config("test-shinkin.toml", &new_bank_toml())
            .unwrap();
    file.name_en = "From a file".into();
    configs.push(file);
    let applied = app
        .state
        .services
        .tenants
        .apply_tenant_configs(&configs)
        .await
        .unwrap();
    let test = applied.iter().find(|a| a.id == "test-shinkin").unwrap();
    assert_eq!(test.change, mamori_store::TenantChange::AdminManaged);
    let bank = admin.get("/v1/admin/banks/test-shinkin").await;
    assert_eq!(
        bank.body["bank"]["name_en"], "Test Shinkin Bank",
        "the console's edit stands"
    );
}
on_both_engines!(a_console_bank_keeps_a_version_history_and_can_be_suspended);

async fn each_role_sees_and_does_only_what_it_may(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let _admin = app.first_admin().await;
    let desk = app
        .operator(
            "jonan-desk",
            OperatorRole::BankOperator,
            Some("jonan-shinkin"),
        )
        .await;
    let auditor = app.operator("auditor", OperatorRole::Auditor, None).await;

    let banks = desk.get("/v1/admin/banks").await;
    let ids: Vec<&str> = banks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(ids, ["jonan-shinkin"]);
    // Another bank reads as missing, on every route.
    for path in [
        "/v1/admin/banks/kitashin",
        "/v1/admin/banks/kitashin/users?contract_number=1",
        "/v1/admin/banks/kitashin/figures",
        "/v1/admin/audit-events?trail=kitashin",
        "/v1/admin/banks/no-such-bank",
    ] {
        let answer = desk.get(path).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, Some("not_found")),
            "{path}: {:?}",
            answer.body
        );
    }
    let platform = desk.get("/v1/admin/audit-events?trail=platform").await;
    assert_eq!(platform.code(), Some("forbidden"), "{:?}", platform.body);
    // Only platform admins change banks and keys.
    for (who, path) in [
        (&desk, "/v1/admin/banks/jonan-shinkin/suspend"),
        (&auditor, "/v1/admin/banks/jonan-shinkin/suspend"),
    ] {
        let answer = who.post(path, json!({ "reason": "x" })).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, Some("forbidden")),
            "{:?}",
            answer.body
        );
    }
    assert_eq!(
        desk.post("/v1/admin/banks/jonan-shinkin/api-keys", json!({}))
            .await
            .code(),
        Some("forbidden")
    );
    assert_eq!(
        desk.get("/v1/admin/operators").await.code(),
        Some("forbidden")
    );
    // The auditor reads every bank.
    assert_eq!(auditor.get("/v1/admin/banks/kitashin").await.status, 200);
    assert_eq!(
        auditor
            .get("/v1/admin/audit-events?trail=platform")
            .await
            .status,
        200
    );
}
on_both_engines!(each_role_sees_and_does_only_what_it_may);

/// A webhook to a link-local or private address (cloud metadata, the bank's own network) is
/// refused, naming `push.webhook_url`, unless the bank's config allows private targets; the
/// allowance is part of the bank's TOML like every other key.
async fn a_webhook_to_a_private_address_needs_the_banks_allowance(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let admin = app.first_admin().await;
    let metadata = "https://169.254.169.254/latest/meta-data/";
    let toml = shipped_toml("johoku-shinkin").replace(
        "[push]\n",
        &format!("[push]\nwebhook_url = \"{metadata}\"\n"),
    );
    let review = admin
        .post(
            "/v1/admin/banks/johoku-shinkin/policy/review",
            json!({ "policy_toml": toml }),
        )
        .await;
    assert_eq!(review.body["valid"], false, "{:?}", review.body);
    assert_eq!(review.body["problems"][0]["location"], "push.webhook_url");
    assert_eq!(
        review.body["problems"][0]["text"],
        format!(
            "johoku-shinkin.toml: push.webhook_url: names 169.254.169.254, a link-local address; \
             webhooks go to private, loopback or link-local targets only with \
             push.webhook_allow_private = true, found \"{metadata}\""
        )
    );

    let private = new_bank_toml().replace(
        "[push]\n",
        "[push]\nwebhook_url = \"https://10.0.0.5/mamori/push\"\n",
    );
    let refused = admin
        .post(
            "/v1/admin/banks",
            json!({ "id": "test-shinkin", "policy_toml": private, "reason": "閉域網" }),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert!(
        refused.text.contains("push.webhook_url") && refused.text.contains("10.0.0.5"),
        "{}",
        refused.text
    );
    let allowed = private.replace("[push]\n", "[push]\nwebhook_allow_private = true\n");
    let created = admin
        .post(
            "/v1/admin/banks",
            json!({ "id": "test-shinkin", "policy_toml": allowed, "reason": "閉域網" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let written = created.body["policy_toml"].as_str().unwrap();
    assert!(
        written.contains("webhook_url = \"https://10.0.0.5/mamori/push\"")
            && written.contains("webhook_allow_private = true"),
        "{written}"
    );
}
on_both_engines!(a_webhook_to_a_private_address_needs_the_banks_allowance);
