//! The committed bundle (`web-admin/dist`, embedded in the binary) and the committed API types
//! (`web-admin/src/api/schema.d.ts`) are exactly what the sources build today. So a fresh clone
//! serves the current console with cargo alone, and a change of openapi/mamori.json that breaks
//! the console fails here (the regenerated types no longer typecheck).

use std::collections::BTreeMap;
use std::path::Path;

use crate::node::{ensure_installed, in_web_admin, output_text, web_admin};

const FIX: &str = "run `npm --prefix web-admin run gen:api && npm --prefix web-admin run build` \
and commit web-admin/src/api/schema.d.ts and web-admin/dist";

#[test]
fn committed_api_types_and_bundle_are_what_the_sources_build() {
    ensure_installed();
    let tmp = tempfile::tempdir().unwrap();

    // The same command as `npm run gen:api`, into a temporary file.
    let types = tmp.path().join("schema.d.ts");
    let out = in_web_admin("npx")
        .args(["--no", "openapi-typescript", "../openapi/mamori.json", "-o"])
        .arg(&types)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-typescript failed:\n{}",
        output_text(&out)
    );
    let fresh = std::fs::read(&types).unwrap();
    let committed = std::fs::read(web_admin().join("src/api/schema.d.ts")).unwrap_or_default();
    assert!(
        fresh == committed,
        "web-admin/src/api/schema.d.ts differs from the types generated from openapi/mamori.json: {FIX}"
    );

    // `npm run build` (typecheck, then vite build) into a temporary directory.
    let dist = tmp.path().join("dist");
    let out = in_web_admin("npm")
        .args(["run", "build", "--", "--emptyOutDir", "--outDir"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the admin console does not build (a type error here may be an API change the console \
         must follow):\n{}",
        output_text(&out)
    );
    let fresh = files(&dist);
    let committed = files(&web_admin().join("dist"));
    let mut stale = Vec::new();
    for (name, bytes) in &fresh {
        match committed.get(name) {
            None => stale.push(format!("missing: dist/{name}")),
            Some(old) if old != bytes => stale.push(format!("differs: dist/{name}")),
            Some(_) => {}
        }
    }
    for name in committed.keys().filter(|name| !fresh.contains_key(*name)) {
        stale.push(format!("not built any more: dist/{name}"));
    }
    assert!(
        stale.is_empty(),
        "web-admin/dist is not what the sources build ({}): {FIX}",
        stale.join(", ")
    );
}

/// Every file under `dir`, by path relative to it (with `/`), with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}
