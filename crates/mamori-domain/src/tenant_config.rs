//! Loading and validating tenant config files (`tenant-configs/*.toml`).
//!
//! One file declares one tenant (bank): its id, names and [`TenantPolicy`]. The file name
//! stem is the tenant id. Errors are one line each, `<file name>: <key path>: <why>`, e.g.
//!
//! ```text
//! johoku-shinkin.toml: otp.digits: expected an integer 6..=8, found "six"
//! ```
//!
//! [`load_dir`] reads a whole directory and reports every error of every file, so an operator
//! can fix them all in one pass.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::policy::found;
use crate::policy::{
    OtpPolicy, PasswordPolicy, PolicyViolation, PushPolicy, RegistrationPolicy, SelfIssuePolicy,
    TenantPolicy, TransactionPolicy,
};

/// [`TenantId`]'s rule, for messages.
const ID_RULE: &str = "3..=40 characters of lowercase a-z, 0-9 and '-', starting with a letter";

/// One tenant (bank) as declared in its config file.
///
/// Serialises as `{"id", "name_ja", "name_en", "service_name_ja"?, "service_name_en"?,
/// "policy": {...}}`. The server stores `policy` as JSON; reading it back applies the same
/// per-value checks as the file loader, and [`TenantConfig::validate`] /
/// [`TenantPolicy::validate`] add the cross-field rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id: the file name stem; 3..=40 characters of lowercase `a-z`, `0-9` and `-`,
    /// starting with a letter (the rule of [`TenantId`]).
    #[serde(deserialize_with = "found::checked")]
    pub id: String,
    /// The bank's name in Japanese (金融機関名), e.g. `城北信用金庫`.
    #[serde(deserialize_with = "found::checked")]
    pub name_ja: String,
    /// The bank's name in English, e.g. `Johoku Shinkin Bank`.
    #[serde(deserialize_with = "found::checked")]
    pub name_en: String,
    /// The bank's internet-banking service in Japanese, e.g. `城北外為WEBサービス`.
    #[serde(
        default,
        deserialize_with = "found::checked",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name_ja: Option<String>,
    /// The bank's internet-banking service in English.
    #[serde(
        default,
        deserialize_with = "found::checked",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_name_en: Option<String>,
    /// The tenant's policies.
    #[serde(default, deserialize_with = "found::checked_table")]
    pub policy: TenantPolicy,
}

/// The shape of a config file: the top-level keys and the policy sections side by side.
///
/// Not `#[serde(flatten)]` into [`TenantConfig`]: flattening does not work with
/// `deny_unknown_fields` and loses the key paths in error messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    #[serde(default, deserialize_with = "found::checked")]
    id: Option<String>,
    #[serde(deserialize_with = "found::checked")]
    name_ja: String,
    #[serde(deserialize_with = "found::checked")]
    name_en: String,
    #[serde(default, deserialize_with = "found::checked")]
    service_name_ja: Option<String>,
    #[serde(default, deserialize_with = "found::checked")]
    service_name_en: Option<String>,
    #[serde(default, deserialize_with = "found::checked_table")]
    password: PasswordPolicy,
    #[serde(default, deserialize_with = "found::checked_table")]
    otp: OtpPolicy,
    #[serde(default, deserialize_with = "found::checked_table")]
    registration: RegistrationPolicy,
    #[serde(default, deserialize_with = "found::checked_table")]
    transactions: TransactionPolicy,
    #[serde(default, deserialize_with = "found::checked_table")]
    push: PushPolicy,
    #[serde(default, deserialize_with = "found::checked_table")]
    self_issue: SelfIssuePolicy,
}

/// The shape of a config file for writing: the same keys, in the file's order.
#[derive(Serialize)]
struct TenantFileOut<'a> {
    name_ja: &'a str,
    name_en: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name_ja: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name_en: Option<&'a str>,
    password: &'a crate::policy::PasswordPolicy,
    otp: &'a crate::policy::OtpPolicy,
    registration: &'a crate::policy::RegistrationPolicy,
    transactions: &'a crate::policy::TransactionPolicy,
    push: &'a crate::policy::PushPolicy,
    self_issue: &'a crate::policy::SelfIssuePolicy,
}

impl TenantConfig {
    /// The config as the text of `tenant-configs/<id>.toml`: every key written out, so the
    /// file is the whole policy. [`parse_tenant_config`] reads it back to the same config.
    pub fn to_toml(&self) -> String {
        let out = TenantFileOut {
            name_ja: &self.name_ja,
            name_en: &self.name_en,
            service_name_ja: self.service_name_ja.as_deref(),
            service_name_en: self.service_name_en.as_deref(),
            password: &self.policy.password,
            otp: &self.policy.otp,
            registration: &self.policy.registration,
            transactions: &self.policy.transactions,
            push: &self.policy.push,
            self_issue: &self.policy.self_issue,
        };
        toml::to_string(&out).unwrap_or_else(|e| format!("# cannot write this config: {e}\n"))
    }

    /// Checks what deserialising cannot: the id format, non-empty names and the policy's
    /// cross-field rules. Returns every problem.
    pub fn validate(&self) -> Result<(), Vec<PolicyViolation>> {
        let mut problems = Vec::new();
        if let Err(why) = check_id(&self.id) {
            problems.push(violation("id", why));
        }
        for (key, value) in [("name_ja", &self.name_ja), ("name_en", &self.name_en)] {
            if value.trim().is_empty() {
                problems.push(violation(key, "must not be empty"));
            }
        }
        if let Err(violations) = self.policy.validate() {
            problems.extend(violations);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn violation(key: &str, message: impl Into<String>) -> PolicyViolation {
    PolicyViolation {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Checks the tenant id format with [`TenantId`]'s rule, phrased as a config message.
fn check_id(id: &str) -> Result<(), String> {
    TenantId::parse(id)
        .map(drop)
        .map_err(|_| format!("expected {ID_RULE}, found {id:?}"))
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Where in a file an error is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorLocation {
    /// A key path such as `otp.digits` or `otp.credential_kinds[1]`.
    Key(String),
    /// A TOML syntax error position (1-based line and column, column counted in characters).
    Position {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
    /// The whole file or directory (unreadable, empty, ...).
    Whole,
}

/// A problem with a tenant config file or directory.
///
/// Displays as one line: `<file name>: <key path>: <why>`, `<file name>: line L, column C:
/// <why>` for TOML syntax errors, or `<file or directory>: <why>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantConfigError {
    /// The file name (or, for directory problems, the directory path).
    pub file: String,
    /// Where in the file.
    pub location: ErrorLocation,
    /// Why, one line.
    pub message: String,
}

impl TenantConfigError {
    fn at_key(file: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            location: ErrorLocation::Key(key.into()),
            message: message.into(),
        }
    }

    fn whole(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            location: ErrorLocation::Whole,
            message: message.into(),
        }
    }
}

impl fmt::Display for TenantConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        match &self.location {
            ErrorLocation::Key(key) => write!(f, "{key}: ")?,
            ErrorLocation::Position { line, column } => {
                write!(f, "line {line}, column {column}: ")?;
            }
            ErrorLocation::Whole => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for TenantConfigError {}

// ---------------------------------------------------------------------------------------------
// Parsing one file
// ---------------------------------------------------------------------------------------------

/// Parses and validates one tenant config file.
///
/// `file_name` is used in messages and its stem is the tenant id (a present `id` key must
/// equal it). Returns the first problem; [`load_dir`] reports all of them.
pub fn parse_tenant_config(file_name: &str, text: &str) -> Result<TenantConfig, TenantConfigError> {
    parse_all_errors(file_name, text).map_err(|mut errors| errors.swap_remove(0))
}

/// Like [`parse_tenant_config`] but returns every problem found after the file deserialised.
/// (Deserialising itself stops at the first error.) The error list is never empty. This is what
/// `mamori tenants check` and the admin console report.
pub fn parse_all_errors(
    file_name: &str,
    text: &str,
) -> Result<TenantConfig, Vec<TenantConfigError>> {
    let file = deserialize_file(file_name, text).map_err(|error| vec![error])?;
    let config = into_config(file_name, file).map_err(|error| vec![error])?;
    config.validate().map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| TenantConfigError::at_key(file_name, problem.key, problem.message))
            .collect::<Vec<_>>()
    })?;
    Ok(config)
}

/// TOML text → [`TenantFile`], with the key path of any error.
fn deserialize_file(file_name: &str, text: &str) -> Result<TenantFile, TenantConfigError> {
    // Parsing first separates syntax errors (reported by position) from value errors
    // (reported by key path).
    let deserializer =
        toml::Deserializer::parse(text).map_err(|error| syntax_error(file_name, text, &error))?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = key_path(error.path());
        let (key, message) = describe_value_error(path, error.inner().message());
        match key {
            Some(key) => TenantConfigError::at_key(file_name, key, message),
            None => TenantConfigError::whole(file_name, message),
        }
    })
}

/// Applies the file-name rules for the id and builds the [`TenantConfig`].
fn into_config(file_name: &str, file: TenantFile) -> Result<TenantConfig, TenantConfigError> {
    let stem = file_stem(file_name);
    let id = match file.id {
        Some(id) if id != stem => {
            return Err(TenantConfigError::at_key(
                file_name,
                "id",
                format!("must equal the file name stem {stem:?}, found {id:?}"),
            ));
        }
        Some(id) => id,
        None => {
            // Say "file name" rather than echoing a key the operator never wrote.
            check_id(&stem).map_err(|_| {
                TenantConfigError::whole(
                    file_name,
                    format!("the file name stem {stem:?} is not a valid tenant id ({ID_RULE})"),
                )
            })?;
            stem
        }
    };
    Ok(TenantConfig {
        id,
        name_ja: file.name_ja,
        name_en: file.name_en,
        service_name_ja: file.service_name_ja,
        service_name_en: file.service_name_en,
        policy: TenantPolicy {
            password: file.password,
            otp: file.otp,
            registration: file.registration,
            transactions: file.transactions,
            push: file.push,
            self_issue: file.self_issue,
        },
    })
}

/// `johoku-shinkin.toml` → `johoku-shinkin`.
fn file_stem(file_name: &str) -> String {
    Path::new(file_name)
        .file_stem()
        .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned())
}

/// A TOML syntax error, located by line and column when toml knows the position.
fn syntax_error(file_name: &str, text: &str, error: &toml::de::Error) -> TenantConfigError {
    let message = one_line(error.message());
    match error.span() {
        Some(span) => {
            let (line, column) = line_and_column(text, span.start);
            TenantConfigError {
                file: file_name.to_owned(),
                location: ErrorLocation::Position { line, column },
                message,
            }
        }
        None => TenantConfigError::whole(file_name, message),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// `otp.digits`, `otp.credential_kinds[1]`; empty at the top level.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut rendered = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => rendered.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(key);
            }
            Segment::Unknown => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push('?');
            }
        }
    }
    rendered
}

/// Rewords serde's own messages for unknown and missing keys and puts the key in the path.
///
/// Every value is read by a checked type that already writes `expected ..., found ...`; what
/// is left are the derive-generated messages for unknown and missing keys, whose wording is
/// fixed by `serde::de::Error`'s default methods, which is what this matches. Anything else
/// is passed through unchanged. Returns the key path (None = the whole file) and message.
fn describe_value_error(path: String, message: &str) -> (Option<String>, String) {
    let message = one_line(message);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (unknown, expected) = rest.split_once('`').unwrap_or((rest, ""));
        // serde_path_to_error records the unknown key itself as the last path segment.
        let key = if path.is_empty() {
            unknown.to_owned()
        } else {
            path
        };
        return (Some(key), format!("unknown key{}", expected_keys(expected)));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let missing = rest.trim_end_matches('`');
        return (
            Some(join_key(&path, missing)),
            "required key is missing".to_owned(),
        );
    }
    let key = (!path.is_empty()).then_some(path);
    (key, message)
}

/// ", expected one of `a`, `b`" → " (expected one of: a, b)".
fn expected_keys(serde_tail: &str) -> String {
    let list = serde_tail
        .trim_start_matches(", expected ")
        .trim_start_matches("one of ")
        .replace('`', "");
    if list.is_empty() || list.starts_with("there are no fields") {
        String::new()
    } else {
        format!(" (expected one of: {list})")
    }
}

fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Keeps an error on one line whatever the underlying library wrote.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Loading a directory
// ---------------------------------------------------------------------------------------------

/// Loads every `*.toml` file in `dir`, sorted by file name.
///
/// Other files (README.md, ...) and hidden files (`.*`, e.g. editor backups) are ignored.
/// Every error of every file is collected rather than stopping at the first. A missing or
/// unreadable directory, a directory without `*.toml` files and an id declared by two files
/// are errors too.
pub fn load_dir(dir: &Path) -> Result<Vec<TenantConfig>, Vec<TenantConfigError>> {
    let dir_name = dir.display().to_string();
    let files = list_config_files(dir).map_err(|error| vec![error])?;
    if files.is_empty() {
        return Err(vec![TenantConfigError::whole(
            dir_name,
            "no tenant config files (*.toml) found in this directory",
        )]);
    }

    let mut configs = Vec::new();
    let mut errors = Vec::new();
    for file_name in files {
        let text = match std::fs::read_to_string(dir.join(&file_name)) {
            Ok(text) => text,
            Err(error) => {
                errors.push(TenantConfigError::whole(
                    file_name,
                    format!("cannot read: {error}"),
                ));
                continue;
            }
        };
        match parse_all_errors(&file_name, &text) {
            Ok(config) => configs.push((file_name, config)),
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    errors.extend(duplicate_ids(&configs));

    if errors.is_empty() {
        Ok(configs.into_iter().map(|(_, config)| config).collect())
    } else {
        Err(errors)
    }
}

/// The names of the `*.toml` files in `dir`, sorted.
fn list_config_files(dir: &Path) -> Result<Vec<String>, TenantConfigError> {
    let dir_name = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|error| {
        let why = if error.kind() == std::io::ErrorKind::NotFound {
            "tenant config directory not found".to_owned()
        } else {
            format!("cannot read the tenant config directory: {error}")
        };
        TenantConfigError::whole(dir_name.clone(), why)
    })?;

    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| {
            TenantConfigError::whole(dir_name.clone(), format!("cannot list: {error}"))
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.path().is_file(); // follows symlinks, unlike DirEntry::file_type
        if is_file && name.ends_with(".toml") && !name.starts_with('.') {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}

/// An error for every config whose id an earlier file already declared.
///
/// Ids equal their file stems, so this only fires when that rule is bypassed (e.g. a future
/// loader reading several directories); it is cheap insurance against one bank overwriting
/// another.
fn duplicate_ids(configs: &[(String, TenantConfig)]) -> Vec<TenantConfigError> {
    let mut first_file: HashMap<&str, &str> = HashMap::new();
    let mut errors = Vec::new();
    for (file_name, config) in configs {
        if let Some(earlier) = first_file.insert(&config.id, file_name) {
            errors.push(TenantConfigError::at_key(
                file_name,
                "id",
                format!(
                    "duplicate tenant id {:?} (also declared in {earlier})",
                    config.id
                ),
            ));
            first_file.insert(&config.id, earlier);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nname_ja = \"城北\" x";
        let offset = text.find('x').unwrap();
        assert_eq!(line_and_column(text, offset), (2, 16));
        assert_eq!(line_and_column(text, 0), (1, 1));
    }

    #[test]
    fn a_second_file_declaring_an_id_is_an_error() {
        let config = |id: &str| TenantConfig {
            id: id.to_owned(),
            name_ja: "a".to_owned(),
            name_en: "a".to_owned(),
            service_name_ja: None,
            service_name_en: None,
            policy: TenantPolicy::default(),
        };
        let configs = [
            ("a.toml".to_owned(), config("same-bank")),
            ("b.toml".to_owned(), config("other-bank")),
            ("c.toml".to_owned(), config("same-bank")),
        ];
        let errors: Vec<String> = duplicate_ids(&configs)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            ["c.toml: id: duplicate tenant id \"same-bank\" (also declared in a.toml)"]
        );
    }

    #[test]
    fn ids() {
        assert!(check_id("johoku-shinkin").is_ok());
        assert!(check_id("ab").is_err());
        assert!(check_id("Johoku").is_err());
        assert!(check_id(&"a".repeat(41)).is_err());
    }
}
