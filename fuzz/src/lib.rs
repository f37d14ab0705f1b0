//! What the fuzz targets share: the committed OpenAPI document, read as banks' generated
//! clients read it, so a target can check that what Mamori accepts is what the spec promises.

pub mod reference_json;
pub mod spec;

/// The input as text, when it is UTF-8 (every entry point under fuzzing takes `&str`).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
