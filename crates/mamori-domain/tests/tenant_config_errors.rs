//! Error messages of the tenant config loader: one line, `<file>: <key path>: <why>`.

use mamori_domain::tenant_config::{ErrorLocation, parse_tenant_config};

/// A valid file head; tests append the section under test.
const NAMES: &str = "name_ja = \"城北信用金庫\"\nname_en = \"Johoku Shinkin Bank\"\n";

/// The one-line message for `text` parsed as `file_name`.
fn error(file_name: &str, text: &str) -> String {
    parse_tenant_config(file_name, text)
        .expect_err("the file should be rejected")
        .to_string()
}

fn johoku_error(sections: &str) -> String {
    error("johoku-shinkin.toml", &format!("{NAMES}{sections}"))
}

#[test]
fn wrong_type_names_the_range_and_quotes_the_string() {
    assert_eq!(
        johoku_error("[otp]\ndigits = \"six\"\n"),
        r#"johoku-shinkin.toml: otp.digits: expected an integer 6..=8, found "six""#
    );
}

#[test]
fn out_of_range_names_the_range_and_the_number() {
    assert_eq!(
        johoku_error("[otp]\ndigits = 9\n"),
        "johoku-shinkin.toml: otp.digits: expected an integer 6..=8, found 9"
    );
    assert_eq!(
        johoku_error("[password]\nlock_threshold = -1\n"),
        "johoku-shinkin.toml: password.lock_threshold: expected an integer 1..=100, found -1"
    );
    assert_eq!(
        johoku_error("[otp]\ndigits = 6.0\n"),
        "johoku-shinkin.toml: otp.digits: expected an integer 6..=8, found 6.0"
    );
}

#[test]
fn unknown_key_lists_the_known_keys() {
    assert_eq!(
        error("x-bank.toml", &format!("{NAMES}[otp]\ndigitz = 6\n")),
        "x-bank.toml: otp.digitz: unknown key (expected one of: algorithm, digits, period, \
         window, resync_window, hotp_look_ahead, lock_threshold, required_at_login, \
         credential_kinds)"
    );
    assert_eq!(
        error("x-bank.toml", &format!("{NAMES}[otpp]\n")),
        "x-bank.toml: otpp: unknown key (expected one of: id, name_ja, name_en, \
         service_name_ja, service_name_en, password, otp, registration, transactions, push, \
         self_issue)"
    );
}

#[test]
fn missing_required_key() {
    assert_eq!(
        error("x-bank.toml", "name_ja = \"a\"\n"),
        "x-bank.toml: name_en: required key is missing"
    );
}

#[test]
fn unknown_keyword_lists_the_allowed_values() {
    assert_eq!(
        johoku_error("[registration]\nmode = \"three\"\n"),
        r#"johoku-shinkin.toml: registration.mode: expected one of "one_code", "two_consecutive_codes", found "three""#
    );
    assert_eq!(
        johoku_error("[transactions]\npayeasy = \"sms\"\n"),
        r#"johoku-shinkin.toml: transactions.payeasy: expected one of "none", "otp", "push", found "sms""#
    );
    assert_eq!(
        johoku_error("[otp]\ncredential_kinds = [\"totp\", \"sms\"]\n"),
        r#"johoku-shinkin.toml: otp.credential_kinds[1]: expected one of "totp", "hotp", found "sms""#
    );
}

#[test]
fn other_wrong_types_echo_what_was_found() {
    assert_eq!(
        johoku_error("[password]\nrequire_digit = \"yes\"\n"),
        r#"johoku-shinkin.toml: password.require_digit: expected true or false, found "yes""#
    );
    assert_eq!(
        error("johoku-shinkin.toml", "name_ja = 3\nname_en = \"b\"\n"),
        "johoku-shinkin.toml: name_ja: expected a string, found 3"
    );
    assert_eq!(
        johoku_error("[otp]\ncredential_kinds = \"totp\"\n"),
        r#"johoku-shinkin.toml: otp.credential_kinds: expected an array, found "totp""#
    );
    assert_eq!(
        johoku_error("otp = 3\n"),
        "johoku-shinkin.toml: otp: expected a table, found 3"
    );
    assert_eq!(
        johoku_error("[[password]]\n"),
        "johoku-shinkin.toml: password: expected a table, found an array of tables"
    );
    assert_eq!(
        johoku_error("[push]\ntimeout_seconds = 1979-05-27\n"),
        "johoku-shinkin.toml: push.timeout_seconds: expected an integer 30..=600, found 1979-05-27"
    );
}

#[test]
fn syntax_error_has_line_and_column_and_no_key_path() {
    let text = "name_ja = \"a\"\nname_en = \"b\"\n[otp]\ndigits = = 6\n";
    let error = parse_tenant_config("x-bank.toml", text).unwrap_err();
    assert_eq!(
        error.location,
        ErrorLocation::Position {
            line: 4,
            column: 10
        }
    );
    assert_eq!(
        error.to_string(),
        "x-bank.toml: line 4, column 10: extra `=`, expected nothing"
    );
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn id_must_equal_the_file_name_stem() {
    assert_eq!(
        error("johoku-shinkin.toml", &format!("id = \"johoku\"\n{NAMES}")),
        r#"johoku-shinkin.toml: id: must equal the file name stem "johoku-shinkin", found "johoku""#
    );
    let config = parse_tenant_config(
        "johoku-shinkin.toml",
        &format!("id = \"johoku-shinkin\"\n{NAMES}"),
    )
    .unwrap();
    assert_eq!(config.id, "johoku-shinkin");
}

#[test]
fn file_name_must_be_a_valid_id() {
    assert_eq!(
        error("Johoku.toml", NAMES),
        "Johoku.toml: the file name stem \"Johoku\" is not a valid tenant id (3..=40 \
         characters of lowercase a-z, 0-9 and '-', starting with a letter)"
    );
}

#[test]
fn names_must_not_be_empty() {
    assert_eq!(
        error("x-bank.toml", "name_ja = \" \"\nname_en = \"b\"\n"),
        "x-bank.toml: name_ja: must not be empty"
    );
}

#[test]
fn cross_field_rules_are_reported_with_the_key_path() {
    assert_eq!(
        johoku_error("[password]\nmin_length = 13\n"),
        "johoku-shinkin.toml: password.min_length: must not exceed password.max_length (12), \
         found 13"
    );
    assert_eq!(
        johoku_error("[otp]\nwindow = 3\nresync_window = 2\n"),
        "johoku-shinkin.toml: otp.resync_window: must be at least otp.window (3), found 2"
    );
    assert_eq!(
        johoku_error("[transactions]\ntransfer = \"push\"\n"),
        r#"johoku-shinkin.toml: transactions.transfer: "push" requires push.enabled = true"#
    );
    assert_eq!(
        johoku_error("[otp]\ncredential_kinds = []\n"),
        r#"johoku-shinkin.toml: otp.credential_kinds: must list at least one of "totp", "hotp""#
    );
}
