//! Request bodies (`mamori_api::bodies`): arbitrary bytes through exactly what a request's body
//! meets before its handler, for every request type of the API.
//!
//! Input: one byte choosing the request type (`'A'` is the first of
//! `mamori_api::bodies::REQUEST_BODIES`, `'B'` the second, …, modulo their number), then the
//! body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_api::bodies::{REQUEST_BODIES, Refusal};
use mamori_fuzz::{reference_json, spec};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let body = &REQUEST_BODIES[usize::from(choice.wrapping_sub(b'A')) % REQUEST_BODIES.len()];

    // The edge's strict check says what the independent reading says.
    let strict = body.check(bytes);
    if !bytes.is_empty() {
        assert_eq!(
            strict.is_ok(),
            reference_json::admits(bytes, body.admin),
            "{}: the strict check said {strict:?} for {:?}",
            body.schema,
            String::from_utf8_lossy(bytes)
        );
    }

    match body.read(bytes) {
        Ok(()) => {
            // A body that reaches the handler is one the spec describes: every field listed,
            // every required one there, each of its declared type.
            let value: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(bytes).expect("read, so JSON")
            };
            if let Err(why) = spec::conforms(spec::schema(body.schema), &value, body.schema) {
                panic!("{} reads a body its schema refuses: {why}", body.schema);
            }
        }
        // What the strict check passes, serde_json reads: the check never lets through a body
        // that then fails as something else.
        Err(Refusal::Json(why)) => panic!("{} passed the strict check: {why}", body.schema),
        Err(Refusal::Strict(_) | Refusal::Parse(_)) => {}
    }
});
