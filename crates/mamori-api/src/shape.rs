//! What the spec promises about an input that the services check.
//!
//! The services decide every input, each refusal with its own stable code
//! (`validation_failed`, `credential_id_malformed`, `otp_malformed` …), after trimming spaces
//! and folding the full-width forms Japanese input methods produce. poem-openapi's
//! `validator(...)` would check a second time at the edge and answer `bad_request` instead, so
//! these types only describe: a [`Text`] field's schema carries its [`Shape`]'s `minLength`,
//! `maxLength` and `pattern`, while parsing it is [`StrictString`]'s, unchanged.
//!
//! A shape states only what is true of every value the service accepts, including the spaces
//! it trims and the full-width forms it folds, never more: progenitor turns a patterned string
//! into a newtype that refuses what does not match, so a stricter pattern would make a bank's
//! generated client refuse what Mamori takes. The canonical form goes in the field's
//! description. `tests/integration/input_shapes.rs` checks both directions field by field.
//!
//! Patterns are ECMA-262, as OpenAPI says, and ASCII text: other characters are written as
//! `\uXXXX` escapes, so the spec reads the same in any editor.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use crate::strict::StrictString;

/// Full-width digits and letters, which the services fold to ASCII (`mamori_otp::fold_width`).
macro_rules! wide_digit {
    () => {
        r"\uFF10-\uFF19"
    };
}
macro_rules! wide_letter {
    () => {
        r"\uFF21-\uFF3A\uFF41-\uFF5A"
    };
}
/// What a typed code or credential ID may hold between its characters: blanks and hyphen-like
/// marks (`mamori_otp`'s `is_blank` and `is_hyphen`).
macro_rules! blank {
    () => {
        r"\t \u3000"
    };
}
macro_rules! id_separator {
    () => {
        concat!(blank!(), r"\-\u2010-\u2015\u2212\uFF0D\u30FC\uFF70")
    };
}
/// A contract number's or user ID's characters, as typed.
macro_rules! identifier_char {
    () => {
        concat!(r"[-.0-9A-Z_a-z", wide_digit!(), wide_letter!(), "]")
    };
}

/// The constraints the spec shows for a kind of input.
pub trait Shape: Send + Sync + 'static {
    /// A short name, for poem-openapi's type name.
    const NAME: &'static str;
    /// Fewest characters (Unicode scalar values, as JSON Schema counts) of an accepted value.
    const MIN_LENGTH: Option<usize> = None;
    /// Most characters of an accepted value.
    const MAX_LENGTH: Option<usize> = None;
    /// An ECMA-262 pattern every accepted value matches.
    const PATTERN: Option<&'static str> = None;
}

/// A string input whose schema carries `S`'s constraints. Parsed exactly as [`StrictString`]:
/// the service judges the value and answers with its own code.
pub struct Text<S>(pub String, PhantomData<S>);

impl<S> Text<S> {
    /// The value, as given.
    pub fn new(value: String) -> Self {
        Self(value, PhantomData)
    }

    /// The value, as given.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<S> fmt::Debug for Text<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<S> Clone for Text<S> {
    fn clone(&self) -> Self {
        Self::new(self.0.clone())
    }
}

impl<S> Deref for Text<S> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<S> From<String> for Text<S> {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl<S: Shape> Type for Text<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        format!("string({})", S::NAME).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: S::MIN_LENGTH,
            max_length: S::MAX_LENGTH,
            pattern: S::PATTERN.map(str::to_owned),
            ..MetaSchema::new("string")
        }))
    }

    fn register(_registry: &mut Registry) {}

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<S: Shape> ParseFromJSON for Text<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        StrictString::parse_from_json(value)
            .map(|s| Self::new(s.0))
            .map_err(ParseError::propagate)
    }
}

impl<S: Shape> ParseFromParameter for Text<S> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self::new(value.to_owned()))
    }
}

impl<S: Shape> ToJSON for Text<S> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// Declares a shape: `shape!(Name, "name", min, max, pattern)`.
macro_rules! shape {
    ($(#[$doc:meta])* $name:ident, $label:literal, $min:expr, $max:expr, $pattern:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}

        impl Shape for $name {
            const NAME: &'static str = $label;
            const MIN_LENGTH: Option<usize> = $min;
            const MAX_LENGTH: Option<usize> = $max;
            const PATTERN: Option<&'static str> = $pattern;
        }
    };
}

shape!(
    /// A bank's ID in a path (`mamori_domain::TenantId`), compared exactly: nothing is trimmed
    /// or folded.
    BankIdShape,
    "bank_id",
    Some(3),
    Some(40),
    Some(r"^[a-z][-0-9a-z]{2,39}$")
);

shape!(
    /// サービスID typed into the token app: a bank's ID, spaces around it trimmed.
    ServiceIdShape,
    "service_id",
    Some(3),
    None,
    Some(r"^\s*[a-z][-0-9a-z]{2,39}\s*$")
);

shape!(
    /// 契約者番号: 1–32 letters, digits, `-`, `_`, `.`, after trimming and folding full-width
    /// letters and digits (full-width `－＿．` are not folded).
    IdentifierShape,
    "identifier",
    Some(1),
    None,
    Some(concat!(r"^\s*", identifier_char!(), r"{1,32}\s*$"))
);

shape!(
    /// 利用者ID: an identifier, or empty (or only spaces) for none.
    OptionalIdentifierShape,
    "optional_identifier",
    None,
    None,
    Some(concat!(r"^\s*(?:", identifier_char!(), r"{1,32}\s*)?$"))
);

shape!(
    /// A one-time code: 6 to 8 digits, ASCII or full-width, with blanks anywhere
    /// (`mamori_otp::normalize_code`).
    OtpShape,
    "otp",
    Some(6),
    None,
    Some(concat!(
        "^[",
        blank!(),
        "]*(?:[0-9",
        wide_digit!(),
        "][",
        blank!(),
        "]*){6,8}$"
    ))
);

shape!(
    /// A Mamori credential ID (`mamori_otp::CredentialId`): 4 letters and 8 digits after
    /// removing blanks and hyphen-like marks, folding full-width forms and upper-casing. The
    /// check digit is not a pattern.
    CredentialIdShape,
    "credential_id",
    Some(12),
    None,
    Some(concat!(
        "^[",
        id_separator!(),
        "]*(?:[A-Za-z",
        wide_letter!(),
        "][",
        id_separator!(),
        "]*){4}(?:[0-9",
        wide_digit!(),
        "][",
        id_separator!(),
        "]*){8}$"
    ))
);

shape!(
    /// A credential ID or an imported hardware token's serial (`mamori_otp::TypedCredentialId`):
    /// 4 to 32 letters and digits, normalised like a credential ID.
    CredentialNameShape,
    "credential_name",
    Some(4),
    None,
    Some(concat!(
        "^[",
        id_separator!(),
        "]*(?:[0-9A-Za-z",
        wide_digit!(),
        wide_letter!(),
        "][",
        id_separator!(),
        "]*){4,32}$"
    ))
);

shape!(
    /// A login password (the bank's rules; every bank's lie within these): 1 to 128 half-width
    /// printable characters, no spaces (`mamori_domain::password::check_new_password`).
    PasswordShape,
    "password",
    Some(1),
    Some(128),
    Some(r"^[!-~]+$")
);

shape!(
    /// 利用開始パスワード (`mamori_domain::self_issue::check_activation_password`): 8 to 32
    /// half-width printable characters with at least one letter and one digit. Not folded.
    ActivationPasswordShape,
    "activation_password",
    Some(8),
    Some(32),
    Some(r"^(?=.*[A-Za-z])(?=.*[0-9])[!-~]{8,32}$")
);

shape!(
    /// ユーザID of an issued token: 10 digits, spaces around them trimmed.
    ActivationUserIdShape,
    "activation_user_id",
    Some(10),
    None,
    Some(r"^\s*[0-9]{10}\s*$")
);

shape!(
    /// An Ed25519 public key, base64url without padding (`mamori_crypto::DevicePublicKey`):
    /// 32 bytes are 43 characters, the last holding 2 bits; spaces around it trimmed.
    DeviceKeyShape,
    "device_public_key",
    Some(43),
    None,
    Some(r"^\s*[-0-9A-Z_a-z]{42}[048AEIMQUYcgkosw]\s*$")
);

shape!(
    /// An Ed25519 signature, base64url without padding: 64 bytes are 86 characters, the last
    /// holding 4 bits; spaces around it trimmed.
    SignatureShape,
    "signature",
    Some(86),
    None,
    Some(r"^\s*[-0-9A-Z_a-z]{85}[AQgw]\s*$")
);

shape!(
    /// A SHA-256 as lowercase hex, compared exactly.
    Sha256HexShape,
    "sha256_hex",
    Some(64),
    Some(64),
    Some(r"^[0-9a-f]{64}$")
);

shape!(
    /// An amount (`mamori_domain::transaction::Transaction::validate`): a non-negative decimal
    /// of ASCII digits, up to 18 before and 18 after the point. Not folded.
    AmountShape,
    "amount",
    Some(1),
    Some(37),
    Some(r"^[0-9]{1,18}(?:\.[0-9]{1,18})?$")
);

shape!(
    /// An ISO 4217 currency: three capital letters.
    CurrencyShape,
    "currency",
    Some(3),
    Some(3),
    Some(r"^[A-Z]{3}$")
);

/// A payee's field: no control, bidi or zero-width characters, which would change what the
/// phone shows (`mamori_domain::transaction`'s `is_hidden`). The length is `maxLength`'s: a
/// pattern's `{1,n}` would count UTF-16 units in JavaScript, and refuse a name of rare kanji
/// the service takes.
const VISIBLE: &str =
    r"^[^\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]+$";

shape!(
    /// 金融機関コード or 支店コード: 1 to 16 visible characters.
    PayeeCodeShape,
    "payee_code",
    Some(1),
    Some(16),
    Some(VISIBLE)
);

shape!(
    /// 口座番号: 1 to 32 visible characters.
    AccountNumberShape,
    "account_number",
    Some(1),
    Some(32),
    Some(VISIBLE)
);

shape!(
    /// 受取人名: 1 to 100 visible characters.
    AccountNameShape,
    "account_name",
    Some(1),
    Some(100),
    Some(VISIBLE)
);

shape!(
    /// What the phone shows for a push approval: 1 to 500 characters, not only spaces (which
    /// a pattern could say only in a way stricter than the service).
    DisplayTextShape,
    "display_text",
    Some(1),
    Some(500),
    None
);

/// A bank's ID in a path.
pub type BankId = Text<BankIdShape>;
/// サービスID as typed.
pub type ServiceId = Text<ServiceIdShape>;
/// 契約者番号 as typed.
pub type ContractNumber = Text<IdentifierShape>;
/// 利用者ID as typed; empty for none.
pub type UserCode = Text<OptionalIdentifierShape>;
/// A one-time code as typed.
pub type Otp = Text<OtpShape>;
/// A Mamori credential ID as typed.
pub type CredentialId = Text<CredentialIdShape>;
/// A credential ID or an imported token's serial, as typed.
pub type CredentialName = Text<CredentialNameShape>;
/// A login password.
pub type Password = Text<PasswordShape>;
/// 利用開始パスワード.
pub type ActivationPassword = Text<ActivationPasswordShape>;
/// ユーザID of an issued token.
pub type ActivationUserId = Text<ActivationUserIdShape>;
/// A device's Ed25519 public key.
pub type DeviceKey = Text<DeviceKeyShape>;
/// A device's Ed25519 signature.
pub type Signature = Text<SignatureShape>;
/// A transaction's SHA-256.
pub type Sha256Hex = Text<Sha256HexShape>;
/// An amount.
pub type Amount = Text<AmountShape>;
/// A currency.
pub type Currency = Text<CurrencyShape>;
/// 金融機関コード or 支店コード.
pub type PayeeCode = Text<PayeeCodeShape>;
/// 口座番号.
pub type AccountNumber = Text<AccountNumberShape>;
/// 受取人名.
pub type AccountName = Text<AccountNameShape>;
/// A push approval's text for the phone.
pub type DisplayText = Text<DisplayTextShape>;

/// Seconds a long poll may wait: 0 to [`mamori_service::MAX_WAIT_SECONDS`]. Parsed as a plain
/// `u32`; the service refuses a longer wait with `validation_failed`.
#[derive(Debug, Clone, Copy)]
pub struct WaitSeconds(pub u32);

impl Type for WaitSeconds {
    const IS_REQUIRED: bool = true;
    type RawValueType = u32;
    type RawElementValueType = u32;

    fn name() -> Cow<'static, str> {
        "integer(wait_seconds)".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(0.0),
            maximum: Some(f64::from(mamori_service::MAX_WAIT_SECONDS)),
            ..MetaSchema::new_with_format("integer", "uint32")
        }))
    }

    fn register(_registry: &mut Registry) {}

    fn as_raw_value(&self) -> Option<&u32> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a u32> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromParameter for WaitSeconds {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        u32::parse_from_parameter(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_ascii_text() {
        for pattern in [
            OtpShape::PATTERN,
            CredentialIdShape::PATTERN,
            CredentialNameShape::PATTERN,
            IdentifierShape::PATTERN,
            AccountNameShape::PATTERN,
        ] {
            let pattern = pattern.unwrap_or_default();
            assert!(pattern.is_ascii() && pattern.starts_with('^'), "{pattern}");
        }
    }

    #[test]
    fn the_schema_carries_the_shape_and_parsing_takes_any_string() {
        let MetaSchemaRef::Inline(schema) = Text::<OtpShape>::schema_ref() else {
            panic!("inline");
        };
        assert_eq!(
            (schema.ty, schema.min_length, schema.max_length),
            ("string", Some(6), None)
        );
        let parsed = Text::<OtpShape>::parse_from_json(Some(Value::String("x".into())));
        assert_eq!(parsed.ok().as_deref(), Some("x"));
        assert!(Text::<OtpShape>::parse_from_json(Some(serde_json::json!(123456))).is_err());
    }
}
