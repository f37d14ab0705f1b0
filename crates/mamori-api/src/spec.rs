//! The OpenAPI document as banks' client generators read it.
//!
//! poem-openapi writes a described property of an enum or object type as
//! `allOf: [{$ref}, {description}]`, the OpenAPI 3.0 way to keep a description next to a
//! reference. Generators read that as a composition: openapi-python-client refuses "allOf a
//! non-object" and drops the schema (and with `Problem` every typed error), others make a new
//! wrapper type per property. A reference with a sibling `description` (OpenAPI 3.1's
//! Reference Object, which 3.0 tools read as the plain reference) keeps both the type and the
//! words, so the document is rewritten that way once, here, for both the committed file and
//! what `/openapi.json` serves.

use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The document with every `allOf` of a single reference (plus a description) turned into that
/// reference with the description beside it. Keys keep poem-openapi's order.
pub fn for_generators(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<Json>(spec) else {
        return spec.to_owned();
    };
    doc.plain_refs();
    doc.document_idempotency_keys();
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned());
    text.push('\n');
    text
}

/// JSON that keeps its keys in document order (`serde_json::Value` sorts them, and the order
/// of a schema's properties is the order generated clients show them in). serde_json's
/// `preserve_order` feature would do it, but features are workspace-wide and the transaction
/// hash relies on `Value` keeping keys sorted.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    Scalar(Value),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Adds the `Idempotency-Key` header to every operation that takes one: the layer that
    /// reads it sits outside poem-openapi's operations, so the rule it applies names them.
    fn document_idempotency_keys(&mut self) {
        let Some(Json::Object(paths)) = self.get_mut("paths") else {
            return;
        };
        for (path, item) in paths.iter_mut() {
            let Json::Object(operations) = item else {
                continue;
            };
            for (method, operation) in operations.iter_mut() {
                if !crate::idempotent::applies(method, path) {
                    continue;
                }
                let Json::Object(fields) = operation else {
                    continue;
                };
                match fields.iter_mut().find(|(k, _)| k == "parameters") {
                    Some((_, Json::Array(parameters))) => parameters.push(idempotency_parameter()),
                    _ => fields.push((
                        "parameters".into(),
                        Json::Array(vec![idempotency_parameter()]),
                    )),
                }
            }
        }
    }

    fn plain_refs(&mut self) {
        match self {
            Json::Object(entries) => {
                if let Some(reference) = single_reference(entries) {
                    entries.retain(|(key, _)| key != "allOf");
                    entries.insert(0, ("$ref".into(), Json::Scalar(Value::String(reference))));
                }
                entries.iter_mut().for_each(|(_, v)| v.plain_refs());
            }
            Json::Array(items) => items.iter_mut().for_each(Json::plain_refs),
            Json::Scalar(_) => {}
        }
    }
}

/// The `Idempotency-Key` header parameter, as poem-openapi writes its own parameters.
fn idempotency_parameter() -> Json {
    let text = |s: &str| Json::Scalar(Value::String(s.to_owned()));
    let schema = Json::Object(vec![
        ("type".into(), text("string")),
        ("minLength".into(), Json::Scalar(Value::from(1))),
        (
            "maxLength".into(),
            Json::Scalar(Value::from(mamori_domain::idempotency::MAX_KEY_LEN)),
        ),
        ("pattern".into(), text("^[!-~]+$")),
    ]);
    Json::Object(vec![
        ("name".into(), text("Idempotency-Key")),
        ("schema".into(), schema),
        ("in".into(), text("header")),
        ("description".into(), text(crate::idempotent::HEADER_DOC)),
        ("required".into(), Json::Scalar(Value::Bool(false))),
        ("deprecated".into(), Json::Scalar(Value::Bool(false))),
        ("explode".into(), Json::Scalar(Value::Bool(true))),
    ])
}

/// The reference of `allOf: [{$ref}, {<only what the outer schema repeats>}]`.
fn single_reference(entries: &[(String, Json)]) -> Option<String> {
    let outer = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let Some(Json::Array(parts)) = outer("allOf") else {
        return None;
    };
    let [first, Json::Object(second)] = parts.as_slice() else {
        return None;
    };
    let Some(Json::Scalar(Value::String(reference))) = first.get("$ref") else {
        return None;
    };
    second
        .iter()
        .all(|(key, v)| outer(key) == Some(v))
        .then(|| reference.clone())
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Scalar(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Scalar(Value::String(v.to_owned())))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_reference_becomes_a_plain_reference_with_its_description() {
        let spec = r##"{"components":{"schemas":{"Problem":{"type":"object","properties":{
            "code":{"description":"Branch on this.","allOf":[
                {"$ref":"#/components/schemas/ErrorCode"},{"description":"Branch on this."}]},
            "both":{"allOf":[{"$ref":"#/a"},{"$ref":"#/b"}]}
        }}}}}"##;
        let text = for_generators(spec);
        // Keys keep their order.
        assert!(text.find("\"Problem\"") < text.find("\"both\""));
        assert!(text.find("\"code\"") < text.find("\"both\""));
        let doc: Value = serde_json::from_str(&text).unwrap();
        let props = &doc["components"]["schemas"]["Problem"]["properties"];
        assert_eq!(
            props["code"],
            serde_json::json!({
                "$ref": "#/components/schemas/ErrorCode",
                "description": "Branch on this."
            })
        );
        // A real composition of two schemas stays as it is.
        assert_eq!(props["both"]["allOf"].as_array().map(Vec::len), Some(2));
    }
}
