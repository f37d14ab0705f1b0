//! Every JSON request body the API takes, read the way a request's body is read: the edge's
//! strict check ([`crate::middleware`]'s duplicate keys and control characters), then
//! poem-openapi's `Json<T>` (an empty body is `null`, anything else `serde_json`, then the
//! request type's `ParseFromJSON`).
//!
//! Handlers never call this: it is there so the fuzz targets in `fuzz/` can feed arbitrary
//! bytes to exactly the code a request's body meets, without a server, a database or an HTTP
//! round trip. The test below keeps the list in step with the spec's request bodies.

use poem_openapi::types::ParseFromJSON;
use serde_json::Value;

use crate::json_guard::{Text, check_json};

/// One request type, as the operations that take it read their body.
#[derive(Debug, Clone, Copy)]
pub struct RequestBody {
    /// The type's name in the spec (`components.schemas`).
    pub schema: &'static str,
    /// Whether it is read on `/v1/admin/` routes, whose strings may break lines (operators'
    /// reasons and policies); every other body is single-line.
    pub admin: bool,
    parse: fn(Value) -> Result<(), String>,
}

/// Why the edge refuses a body, in the order it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The strict check: a duplicate key, a control character, or not JSON at all.
    Strict(String),
    /// `serde_json` reading the body into a value (a body the strict check passed).
    Json(String),
    /// The request type's `ParseFromJSON`: a missing or unknown field, a wrong type.
    Parse(String),
}

impl RequestBody {
    /// What a handler would get for `bytes` sent as `application/json`: `Ok` when the body
    /// reaches the handler, else the edge's reason for answering `bad_request`.
    pub fn read(&self, bytes: &[u8]) -> Result<(), Refusal> {
        self.check(bytes).map_err(Refusal::Strict)?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).map_err(|e| Refusal::Json(e.to_string()))?
        };
        self.parse(value).map_err(Refusal::Parse)
    }

    /// The edge's strict check alone, with this body's rule for line breaks. An empty body is
    /// not checked (the middleware skips it; poem-openapi reads it as `null`).
    pub fn check(&self, bytes: &[u8]) -> Result<(), String> {
        let text = if self.admin {
            Text::MultiLine
        } else {
            Text::SingleLine
        };
        if bytes.is_empty() {
            return Ok(());
        }
        check_json(bytes, text)
    }

    /// The request type's `ParseFromJSON` alone, on an already-read value.
    pub fn parse(&self, value: Value) -> Result<(), String> {
        (self.parse)(value)
    }
}

const fn body<T: ParseFromJSON>(schema: &'static str, admin: bool) -> RequestBody {
    RequestBody {
        schema,
        admin,
        parse: parse::<T>,
    }
}

fn parse<T: ParseFromJSON>(value: Value) -> Result<(), String> {
    T::parse_from_json(Some(value))
        .map(drop)
        .map_err(|e| e.into_message())
}

/// Every request body type, each once.
pub const REQUEST_BODIES: &[RequestBody] = &[
    body::<crate::bank::CreateUserRequest>("CreateUserRequest", false),
    body::<crate::bank::RegisterCredentialRequest>("RegisterCredentialRequest", false),
    body::<crate::bank::OtpRequest>("OtpRequest", false),
    body::<crate::bank::ResyncRequest>("ResyncRequest", false),
    body::<crate::bank::ChangeDeviceRequest>("ChangeDeviceRequest", false),
    body::<crate::self_issue::IssueTokenRequest>("IssueTokenRequest", false),
    body::<crate::self_issue::ActivateTokenRequest>("ActivateTokenRequest", false),
    body::<crate::self_issue::StartOtpUseRequest>("StartOtpUseRequest", false),
    body::<crate::login::StartLoginRequest>("StartLoginRequest", false),
    body::<crate::login::CompleteLoginRequest>("CompleteLoginRequest", false),
    body::<crate::login::ChangePasswordRequest>("ChangePasswordRequest", false),
    body::<crate::login::TransactionOtpRequest>("TransactionOtpRequest", false),
    body::<crate::push::CreatePushApprovalRequest>("CreatePushApprovalRequest", false),
    body::<crate::push::AnswerRequest>("AnswerRequest", false),
    body::<crate::token::ProvisionRequest>("ProvisionRequest", false),
    body::<crate::token::CredentialBanksRequest>("CredentialBanksRequest", false),
    body::<crate::admin::session::SignInRequest>("SignInRequest", true),
    body::<crate::admin::session::ChangeOwnPasswordRequest>("ChangeOwnPasswordRequest", true),
    body::<crate::admin::session::CodeRequest>("CodeRequest", true),
    body::<crate::admin::session::CreateOperatorRequest>("CreateOperatorRequest", true),
    body::<crate::admin::ReasonRequest>("ReasonRequest", true),
    body::<crate::admin::banks::CreateBankRequest>("CreateBankRequest", true),
    body::<crate::admin::banks::ReviewRequest>("ReviewRequest", true),
    body::<crate::admin::banks::SavePolicyRequest>("SavePolicyRequest", true),
    body::<crate::admin::banks::CreateApiKeyRequest>("CreateApiKeyRequest", true),
    body::<crate::admin::tokens::AdminTokenImportRequest>("AdminTokenImportRequest", true),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Every operation's body in the committed spec, schema name → whether its path is an
    /// admin one; the same schema on both kinds of path would need two entries.
    fn bodies_in_spec() -> BTreeMap<String, bool> {
        let spec: Value = serde_json::from_str(include_str!("../../../openapi/mamori.json"))
            .expect("the committed spec is JSON");
        let mut found = BTreeMap::new();
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for operation in item.as_object().expect("path item").values() {
                let Some(content) = operation["requestBody"]["content"].as_object() else {
                    continue;
                };
                for media in content.values() {
                    let reference = media["schema"]["$ref"].as_str().expect("a named body");
                    let name = reference.rsplit('/').next().unwrap_or(reference);
                    let admin = path.starts_with("/v1/admin/");
                    let earlier = found.insert(name.to_owned(), admin);
                    assert!(earlier.is_none_or(|was| was == admin), "{name} on both");
                }
            }
        }
        found
    }

    #[test]
    fn the_list_is_every_body_of_the_spec_once() {
        let in_list: BTreeMap<String, bool> = REQUEST_BODIES
            .iter()
            .map(|b| (b.schema.to_owned(), b.admin))
            .collect();
        assert_eq!(in_list.len(), REQUEST_BODIES.len(), "a body listed twice");
        assert_eq!(in_list, bodies_in_spec());
    }

    fn listed(schema: &str) -> &'static RequestBody {
        REQUEST_BODIES
            .iter()
            .find(|b| b.schema == schema)
            .expect("listed")
    }

    /// Free text is a JSON string too: poem-openapi's `String` would take a number or a boolean
    /// and make text of it, where the contract says string (found by fuzz/'s `request_body`).
    #[test]
    fn free_text_refuses_numbers_and_booleans() {
        for (schema, body) in [
            ("CreateApiKeyRequest", r#"{"label": 1}"#),
            ("ReasonRequest", r#"{"reason": true}"#),
            (
                "CreateUserRequest",
                r#"{"contract_number": "123", "display_name": 12}"#,
            ),
            (
                "CreateOperatorRequest",
                r#"{"login_name": "a", "display_name": 1, "role": "platform_admin"}"#,
            ),
            (
                "SavePolicyRequest",
                r#"{"policy_toml": 1, "from_version": 1, "reason": "x"}"#,
            ),
            (
                "AdminTokenImportRequest",
                r#"{"format": "csv", "content": 1}"#,
            ),
        ] {
            let read = listed(schema).read(body.as_bytes());
            assert!(matches!(read, Err(Refusal::Parse(_))), "{schema}: {read:?}");
        }
        let text = listed("ReasonRequest").read(br#"{"reason": "1"}"#);
        assert_eq!(text, Ok(()));
    }

    #[test]
    fn a_body_reads_as_the_edge_reads_it() {
        let otp = listed("OtpRequest");
        assert_eq!(otp.read(br#"{"otp":"123456"}"#), Ok(()));
        assert!(matches!(
            otp.read(br#"{"otp":"1","otp":"2"}"#),
            Err(Refusal::Strict(_))
        ));
        assert!(matches!(
            otp.read(br#"{"otp":123456}"#),
            Err(Refusal::Parse(_))
        ));
        assert!(matches!(otp.read(b""), Err(Refusal::Parse(_))));
        let reason = listed("ReasonRequest");
        assert_eq!(reason.read(br#"{"reason":"two\nlines"}"#), Ok(()));
        assert!(matches!(
            otp.read(br#"{"otp":"12\n3456"}"#),
            Err(Refusal::Strict(_))
        ));
    }
}
