//! The TypeScript side: openapi-typescript (web-admin's devDependency, the version banks get
//! from npm with `npx openapi-typescript@<that version>`) generates the types of every
//! operation without a warning.

use std::collections::BTreeSet;

use crate::node::{ensure_installed, in_web_admin, output_text};
use crate::{artifacts_dir, operation_ids, spec, spec_path};

/// The keys of `export interface operations { … }` in the generated declarations.
fn operations_in(types: &str) -> BTreeSet<String> {
    let start = types
        .find("\nexport interface operations {\n")
        .expect("the generated types declare `operations`");
    types[start..]
        .lines()
        .skip(2)
        .take_while(|line| *line != "}")
        .filter_map(|line| line.strip_prefix("    ")?.strip_suffix(": {"))
        .filter(|key| !key.starts_with(' '))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_typescript_types_have_every_operation_and_no_warning() {
    ensure_installed();
    let out_dir = artifacts_dir("typescript");
    let types_path = out_dir.join("mamori.d.ts");
    let out = in_web_admin("npx")
        .args(["--no", "openapi-typescript"])
        .arg(spec_path())
        .arg("-o")
        .arg(&types_path)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "openapi-typescript failed:\n{text}");
    // It warns on standard error (" ⚠ …"); its standard output is its banner and the file.
    assert!(out.stderr.is_empty(), "openapi-typescript warned:\n{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let unexpected: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.contains("openapi-typescript") && !line.contains(" → "))
        .collect();
    assert!(unexpected.is_empty(), "openapi-typescript said:\n{text}");

    let types = std::fs::read_to_string(&types_path).unwrap();
    let generated = operations_in(&types);
    let spec_ids = operation_ids();
    let missing: Vec<_> = spec_ids.difference(&generated).collect();
    let extra: Vec<_> = generated.difference(&spec_ids).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{}: operations missing {missing:?}, not in the spec {extra:?}",
        types_path.display()
    );

    // Every documented error reads as the Problem type.
    let errors = spec()["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .flat_map(|op| op["responses"].as_object().unwrap().keys())
        .filter(|status| !status.starts_with('2'))
        .count();
    let problems = types
        .matches(r#""application/problem+json": components["schemas"]["Problem"];"#)
        .count();
    assert_eq!(
        problems,
        errors,
        "{}: not every error response is typed as Problem",
        types_path.display()
    );
}
