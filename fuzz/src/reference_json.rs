//! A second, independent reading of the edge's strict JSON rule (`mamori_api`'s json_guard),
//! to compare the real one with: the body is JSON, no object repeats a key, no key holds a
//! control character, and no string holds one except, on admin routes, tab and line breaks.
//!
//! The guard streams through serde's visitor; this builds the whole tree with every key kept
//! in order and then looks, so the two share no code beyond `serde_json`'s tokenizer.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// JSON with every object's keys kept, repeats included.
#[derive(Debug)]
pub enum Raw {
    /// An object's entries, in order, repeats kept.
    Object(Vec<(String, Raw)>),
    /// An array.
    Array(Vec<Raw>),
    /// A string.
    String(String),
    /// A number, boolean or null.
    Scalar,
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Raw>()? {
            entries.push(entry);
        }
        Ok(Raw::Object(entries))
    }
}

/// Whether the strict rule admits `body`; `multi_line` allows tab, CR and LF in values.
pub fn admits(body: &[u8], multi_line: bool) -> bool {
    serde_json::from_slice::<Raw>(body).is_ok_and(|raw| clean(&raw, multi_line))
}

fn clean(raw: &Raw, multi_line: bool) -> bool {
    let allowed = |s: &str, lines: bool| {
        s.chars()
            .all(|c| !c.is_control() || (lines && matches!(c, '\t' | '\n' | '\r')))
    };
    match raw {
        Raw::Object(entries) => {
            let mut keys = HashSet::new();
            entries.iter().all(|(key, value)| {
                keys.insert(key.as_str()) && allowed(key, false) && clean(value, multi_line)
            })
        }
        Raw::Array(items) => items.iter().all(|item| clean(item, multi_line)),
        Raw::String(s) => allowed(s, multi_line),
        Raw::Scalar => true,
    }
}
