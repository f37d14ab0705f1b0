//! Strict JSON reading: refuses duplicate keys and control characters.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"code":"111111","code":"222222"}`
//! would silently become one of them. A bank's client sending that has a bug we want it to see.
//!
//! A control character in a name or an ID is never meant; PostgreSQL refuses a NUL in text
//! while SQLite stores it, so without this check the same request would be a 503 on one
//! engine and a stored NUL on the other. Refused here, before any handler, on both alike.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// Which control characters a body's strings may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// None: names, IDs and codes of the Bank and token APIs.
    SingleLine,
    /// Tab and line breaks, for operators' free text (reasons, a policy's TOML, a seed file).
    MultiLine,
}

impl Text {
    fn allows(self, c: char) -> bool {
        !c.is_control() || (self == Text::MultiLine && matches!(c, '\t' | '\n' | '\r'))
    }
}

/// The first control character of `text` as `U+XXXX`, if it has one.
pub fn first_control(text: &str) -> Option<String> {
    text.chars()
        .find(|c| c.is_control())
        .map(|c| format!("U+{:04X}", c as u32))
}

/// Checks `body` is JSON without duplicate object keys and without control characters (beyond
/// what `text` allows) at any depth. The error names the key.
pub fn check_json(body: &[u8], text: Text) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    de.deserialize_any(Strict { text, field: None })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct Strict<'a> {
    text: Text,
    /// The key whose value is being read, to name it in an error.
    field: Option<&'a str>,
}

impl Strict<'_> {
    fn check<E: de::Error>(&self, s: &str) -> Result<(), E> {
        match s.chars().find(|c| !self.text.allows(*c)) {
            None => Ok(()),
            Some(c) => {
                let at = match self.field {
                    Some(field) => format!(" in {field:?}"),
                    None => String::new(),
                };
                Err(E::custom(format!(
                    "control character U+{:04X}{at}",
                    c as u32
                )))
            }
        }
    }
}

impl<'de> de::DeserializeSeed<'de> for Strict<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.check(s)
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Strict {
                text: self.text,
                field: self.field,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            Strict {
                text: Text::SingleLine,
                field: None,
            }
            .check::<A::Error>(&key)?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value_seed(Strict {
                text: self.text,
                field: Some(&key),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &[u8]) -> Result<(), String> {
        check_json(body, Text::SingleLine)
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(single(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        let err = single(br#"{"code":"111111","code":"222222"}"#).unwrap_err();
        assert!(err.contains("duplicate key \"code\""), "{err}");
        assert!(single(br#"{"a":{"x":1,"x":2}}"#).is_err());
        assert!(single(br#"[{"x":1},{"x":2}]"#).is_ok());
        assert!(single(b"{").is_err());
        assert!(single(b"{} trailing").is_err());
    }

    #[test]
    fn control_characters_are_refused_and_named_by_field() {
        let err = single(br#"{"user":{"display_name":"A\u0000B"}}"#).unwrap_err();
        assert!(
            err.contains("control character U+0000 in \"display_name\""),
            "{err}"
        );
        assert!(single(br#"{"ids":["ok","x\u001b"]}"#).is_err());
        assert!(single(br#"{"a":"line\nbreak"}"#).is_err());
        assert!(single(br#"{"a":"\u0085"}"#).is_err(), "C1 NEL");
        assert!(single(br#"{"a\u0000":"x"}"#).is_err(), "keys too");
        // Escaped backslashes are not escapes of control characters.
        assert!(single(br#"{"a":"C:\\new\\u0000"}"#).is_ok());
        assert!(single("{\"name\":\"城南信用金庫 ﾃｽﾄ\"}".as_bytes()).is_ok());
    }

    #[test]
    fn operators_free_text_may_break_lines_but_never_hold_nul() {
        let reason = br#"{"reason":"phone lost\r\n\tcalled 10:02"}"#;
        assert!(check_json(reason, Text::MultiLine).is_ok());
        assert!(check_json(br#"{"reason":"a\u0000"}"#, Text::MultiLine).is_err());
        assert!(check_json(br#"{"reason":"a\u0007"}"#, Text::MultiLine).is_err());
    }
}
