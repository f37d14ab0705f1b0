//! A JSON string that must be a string.
//!
//! poem-openapi's `String` accepts a JSON number and turns it into text, so `{"otp": 123456}`
//! would be checked as a code — and `{"otp": 12345}` (a code whose leading zero a client's
//! JSON library dropped) would be counted against the customer. Codes and IDs are strings in
//! the contract; anything else is a `bad_request` that changes nothing.

use std::borrow::Cow;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// A string field that refuses numbers, booleans and other JSON types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrictString(pub String);

impl Deref for StrictString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Type for StrictString {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        String::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }

    fn register(registry: &mut Registry) {
        String::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for StrictString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(Self(s)),
            Some(other) => Err(ParseError::custom(format!(
                "expected a JSON string (codes keep their leading zeros), found {}",
                json_type(&other)
            ))),
            None => Err(ParseError::expected_input()),
        }
    }
}

impl ToJSON for StrictString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strings_are_accepted() {
        assert_eq!(
            StrictString::parse_from_json(Some(Value::String("081804".into())))
                .unwrap()
                .0,
            "081804"
        );
        for bad in [
            serde_json::json!(81804),
            serde_json::json!(true),
            serde_json::json!(["1"]),
            Value::Null,
        ] {
            assert!(StrictString::parse_from_json(Some(bad)).is_err());
        }
    }
}
