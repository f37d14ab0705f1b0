//! Generates the Rust client of `openapi/mamori.json` with progenitor into `$OUT_DIR/client.rs`.
//! A spec progenitor refuses fails the build with progenitor's reason.

use std::path::PathBuf;

fn main() {
    let spec_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../openapi/mamori.json");
    println!("cargo::rerun-if-changed={}", spec_path.display());
    let text = std::fs::read_to_string(&spec_path)
        .unwrap_or_else(|err| panic!("{}: {err}", spec_path.display()));
    let spec = serde_json::from_str(&text).unwrap_or_else(|err| {
        panic!(
            "{} is not an OpenAPI 3.0 document: {err}",
            spec_path.display()
        )
    });
    let mut generator = progenitor::Generator::default();
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|err| panic!("progenitor refuses {}: {err}", spec_path.display()));
    let file = syn::parse2(tokens)
        .unwrap_or_else(|err| panic!("progenitor's output does not parse: {err}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("client.rs");
    std::fs::write(&out, prettyplease::unparse(&file))
        .unwrap_or_else(|err| panic!("{}: {err}", out.display()));
}
