//! Strict JSON reading: refuses duplicate keys.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"code":"111111","code":"222222"}`
//! would silently become one of them. A bank's client sending that has a bug we want it to see.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// Checks `body` is JSON without duplicate object keys at any depth. The error names the key.
pub fn check_no_duplicate_keys(body: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    de.deserialize_any(Strict).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct Strict;

impl<'de> de::DeserializeSeed<'de> for Strict {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
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
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Strict)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value_seed(Strict)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(check_no_duplicate_keys(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        let err = check_no_duplicate_keys(br#"{"code":"111111","code":"222222"}"#).unwrap_err();
        assert!(err.contains("duplicate key \"code\""), "{err}");
        assert!(check_no_duplicate_keys(br#"{"a":{"x":1,"x":2}}"#).is_err());
        assert!(check_no_duplicate_keys(br#"[{"x":1},{"x":2}]"#).is_ok());
        assert!(check_no_duplicate_keys(b"{").is_err());
        assert!(check_no_duplicate_keys(b"{} trailing").is_err());
    }
}
