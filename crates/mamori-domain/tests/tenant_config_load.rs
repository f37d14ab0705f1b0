//! Loading directories, defaults, serde round trips, and the shipped `tenant-configs/`.

use std::path::Path;

use mamori_domain::policy::{
    AuthMethod, CredentialKind, OtpAlgorithm, PasswordManagement, RegistrationMode, TenantPolicy,
    TransactionKind,
};
use mamori_domain::tenant_config::{TenantConfig, load_dir, parse_tenant_config};

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tenant-configs");

const NAMES: &str = "name_ja = \"テスト信用金庫\"\nname_en = \"Test Shinkin Bank\"\n";

fn shipped() -> Vec<TenantConfig> {
    load_dir(Path::new(SHIPPED)).unwrap_or_else(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("shipped tenant configs are invalid:\n{}", lines.join("\n"))
    })
}

fn shipped_tenant(id: &str) -> TenantConfig {
    shipped()
        .into_iter()
        .find(|config| config.id == id)
        .unwrap_or_else(|| panic!("no shipped tenant {id}"))
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a test file");
}

#[test]
fn every_shipped_file_loads_sorted_by_file_name() {
    let ids: Vec<String> = shipped().into_iter().map(|config| config.id).collect();
    assert_eq!(
        ids,
        [
            "demo-shinkin",
            "johoku-shinkin",
            "jonan-shinkin",
            "kitakyushu-bank",
            "kitashin",
            "shinkin-001"
        ]
    );
}

#[test]
fn johoku_has_the_policies_of_seed_002() {
    let johoku = shipped_tenant("johoku-shinkin");
    assert_eq!(johoku.name_ja, "城北信用金庫");
    assert_eq!(
        johoku.service_name_ja.as_deref(),
        Some("城北外為WEBサービス")
    );
    let policy = &johoku.policy;
    assert_eq!(
        policy.registration.mode,
        RegistrationMode::TwoConsecutiveCodes
    );
    let password = &policy.password;
    assert_eq!(password.managed_by, PasswordManagement::Mamori);
    assert_eq!(
        (password.min_length.get(), password.max_length.get()),
        (6, 12)
    );
    assert!(password.require_letter && password.require_digit && password.forbid_user_id);
    assert_eq!(password.history.get(), 2);
    assert_eq!(password.expiry_days.get(), 90);
    assert_eq!(password.lock_threshold.get(), 5);
    assert_eq!(password.auto_unlock_minutes.get(), 0);
    assert!(password.force_change_on_first_login && password.force_change_after_reset);
    assert_eq!(policy.otp.lock_threshold.get(), 10);
    assert_eq!(policy.otp.period.get(), 30);
    assert!(policy.otp.required_at_login);
}

#[test]
fn jonan_has_the_policies_of_seed_004() {
    let policy = shipped_tenant("jonan-shinkin").policy;
    assert_eq!(policy.registration.mode, RegistrationMode::OneCode);
    for &kind in TransactionKind::ALL {
        assert_eq!(policy.transaction_method(kind), AuthMethod::Otp, "{kind}");
    }
    // 「ログインは「利用者IDとログインパスワード」となり…一部取引を行う時にワンタイムパスワードが必要」
    assert!(!policy.otp.required_at_login);
}

#[test]
fn kitakyushu_approves_transfers_by_push() {
    let policy = shipped_tenant("kitakyushu-bank").policy;
    assert_eq!(
        policy.transaction_method(TransactionKind::Transfer),
        AuthMethod::Push
    );
    assert!(policy.push.enabled);
    assert!(policy.otp.required_at_login);
}

#[test]
fn kitashin_issues_tokens_itself() {
    let policy = shipped_tenant("kitashin").policy;
    assert!(policy.self_issue.enabled);
    assert_eq!(policy.registration.mode, RegistrationMode::OneCode);
    assert!(policy.otp.required_at_login);
}

#[test]
fn shinkin_001_registers_with_one_code_and_needs_an_otp_at_login() {
    let config = shipped_tenant("shinkin-001");
    assert_eq!(config.policy.registration.mode, RegistrationMode::OneCode);
    assert!(config.policy.otp.required_at_login);
    assert!(!config.policy.push.enabled && !config.policy.self_issue.enabled);
}

#[test]
fn a_file_with_only_names_gets_the_default_policy() {
    let config = parse_tenant_config("test-shinkin.toml", NAMES).unwrap();
    assert_eq!(config.id, "test-shinkin");
    assert_eq!(config.service_name_ja, None);
    assert_eq!(config.policy, TenantPolicy::default());
}

#[test]
fn algorithm_is_case_insensitive_and_serialises_upper_case() {
    let text =
        format!("{NAMES}[otp]\nalgorithm = \"sha256\"\ncredential_kinds = [\"totp\", \"hotp\"]\n");
    let config = parse_tenant_config("test-shinkin.toml", &text).unwrap();
    assert_eq!(config.policy.otp.algorithm, OtpAlgorithm::Sha256);
    assert!(config.policy.otp.allows(CredentialKind::Hotp));
    let written = toml::to_string(&config.policy).unwrap();
    assert!(written.contains("algorithm = \"SHA256\""), "{written}");
}

#[test]
fn config_and_policy_survive_a_serde_round_trip() {
    for config in shipped() {
        let written = toml::to_string(&config).unwrap();
        let read: TenantConfig = toml::from_str(&written).unwrap();
        assert_eq!(read, config);

        let written = toml::to_string(&config.policy).unwrap();
        let read: TenantPolicy = toml::from_str(&written).unwrap();
        assert_eq!(read, config.policy);
    }
}

#[test]
fn stored_policy_is_checked_when_read_back() {
    // What the server reads back from its database goes through the same checked types.
    let error = toml::from_str::<TenantPolicy>("[otp]\ndigits = 9\n").unwrap_err();
    assert_eq!(error.message(), "expected an integer 6..=8, found 9");
}

#[test]
fn load_dir_collects_every_error_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "README.md", "not a config");
    write(dir.path(), "notes.txt", "digits = nine");
    write(dir.path(), "good-bank.toml", NAMES);
    write(
        dir.path(),
        "b-bank.toml",
        &format!("{NAMES}[otp]\ndigits = 9\n"),
    );
    write(
        dir.path(),
        "a-bank.toml",
        &format!("{NAMES}[password]\nmin_length = 13\n[transactions]\ntransfer = \"push\"\n"),
    );
    write(dir.path(), "c-bank.toml", "name_ja = \n");

    let errors: Vec<String> = load_dir(dir.path())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "a-bank.toml: password.min_length: must not exceed password.max_length (12), found 13",
            "a-bank.toml: transactions.transfer: \"push\" requires push.enabled = true",
            "b-bank.toml: otp.digits: expected an integer 6..=8, found 9",
            "c-bank.toml: line 1, column 11: string values must be quoted, expected literal string",
        ]
    );
}

#[test]
fn load_dir_returns_configs_in_file_name_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "zeta-bank.toml", NAMES);
    write(dir.path(), "alpha-bank.toml", NAMES);
    write(dir.path(), "README.md", "# tenants");
    let ids: Vec<String> = load_dir(dir.path())
        .unwrap()
        .into_iter()
        .map(|config| config.id)
        .collect();
    assert_eq!(ids, ["alpha-bank", "zeta-bank"]);
}

#[test]
fn an_empty_or_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "README.md", "# tenants");
    let errors = load_dir(dir.path()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        format!(
            "{}: no tenant config files (*.toml) found in this directory",
            dir.path().display()
        )
    );

    let missing = dir.path().join("nowhere");
    let errors = load_dir(&missing).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        format!("{}: tenant config directory not found", missing.display())
    );
}

/// The README in the shipped directory.
fn readme() -> String {
    std::fs::read_to_string(Path::new(SHIPPED).join("README.md")).expect("read README.md")
}

#[test]
fn readme_documents_every_key() {
    let readme = readme();
    let defaults = toml::Table::try_from(TenantPolicy::default()).unwrap();
    for (section, keys) in &defaults {
        assert!(
            readme.contains(&format!("### `[{section}]`")),
            "[{section}]"
        );
        for key in keys.as_table().unwrap().keys() {
            assert!(readme.contains(&format!("| `{key}` |")), "{section}.{key}");
        }
    }
}

#[test]
fn readme_example_is_valid() {
    let readme = readme();
    let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let config = parse_tenant_config("example-shinkin.toml", &readme[start..end]).unwrap();
    assert_eq!(
        config.policy.transaction_method(TransactionKind::Transfer),
        AuthMethod::Push
    );
}

#[test]
fn every_shipped_config_written_as_toml_reads_back_the_same() {
    for config in shipped() {
        let text = config.to_toml();
        let again = parse_tenant_config(&format!("{}.toml", config.id), &text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", config.id));
        assert_eq!(again, config, "{text}");
    }
}
