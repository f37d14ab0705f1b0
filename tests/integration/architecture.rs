//! The shape of the code, checked: inside each crate, no two modules import each other,
//! directly or round a loop (the crate layering otp/crypto/domain → store → service → api →
//! server is enforced by Cargo itself). A loop is what made one struct everything's hub before;
//! this test names the modules of any new one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../crates"))
}

/// Every `.rs` file under `src`, with its module path (`""` for the crate root).
fn modules(src: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((parts.join("::"), text));
        }
    }
    out
}

/// The code of a file without comments and without its inline test module.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Expands `a::{b, c::{d, e}}` (the text after `crate::` of a `use`) into full paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// Every `crate::…` path a file's code names.
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let preceded_by_ident = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if preceded_by_ident {
            rest = after;
            continue;
        }
        if after.starts_with('{') {
            let end = after.find(';').unwrap_or(after.len());
            paths.extend(expand(&after[..end]));
            rest = &after[end..];
        } else {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
                .unwrap_or(after.len());
            let path = &after[..end];
            if path.contains('{') {
                let stop = after.find(';').unwrap_or(after.len());
                paths.extend(expand(&after[..stop]));
                rest = &after[stop..];
            } else {
                paths.push(path.trim_end_matches(':').to_owned());
                rest = &after[end..];
            }
        }
    }
    paths
}

/// The module a path lands in: its longest prefix that is a module, or the root.
fn target_module(path: &str, known: &BTreeSet<String>) -> String {
    let segments: Vec<&str> = path.split("::").collect();
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|candidate| known.contains(candidate))
        .unwrap_or_default()
}

/// The import graph of one crate: module → modules it uses (not counting `mod` declarations).
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = modules(src);
    let known: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &files {
        let code = code_of(text);
        let mut edges: BTreeSet<String> = crate_paths(&code)
            .iter()
            .map(|p| target_module(p, &known))
            .collect();
        // The root re-exports its modules: `pub use area::Thing;` is an edge root → area.
        if module.is_empty() {
            for line in code.lines() {
                if let Some(rest) = line.trim().strip_prefix("pub use ")
                    && let Some(first) = rest.split("::").next()
                    && known.contains(first)
                {
                    for path in expand(rest.trim_end_matches(';')) {
                        edges.insert(target_module(&path, &known));
                    }
                }
            }
        }
        edges.remove(module);
        graph.insert(module.clone(), edges);
    }
    graph
}

/// A loop in the graph, if there is one.
fn find_loop(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let mut loops = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let graph = import_graph(&src);
        checked += graph.len();
        if let Some(cycle) = find_loop(&graph) {
            let name = src
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let cycle: Vec<String> = cycle
                .into_iter()
                .map(|m| {
                    if m.is_empty() {
                        "(crate root)".into()
                    } else {
                        m
                    }
                })
                .collect();
            loops.push(format!("{name}: {}", cycle.join(" → ")));
        }
    }
    assert!(
        checked > 50,
        "the crates were not found ({checked} modules)"
    );
    assert!(
        loops.is_empty(),
        "modules importing each other:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_checker_sees_a_loop_through_the_crate_root() {
    let mut graph = BTreeMap::new();
    graph.insert(String::new(), BTreeSet::from(["area".to_owned()]));
    graph.insert("area".to_owned(), BTreeSet::from([String::new()]));
    assert!(find_loop(&graph).is_some());
    let known = BTreeSet::from([String::new(), "core".to_owned(), "core::audit".to_owned()]);
    let paths = crate_paths("use crate::core::{audit::AuditEntry, Core};\nuse crate::Services;\n");
    let targets: BTreeSet<String> = paths.iter().map(|p| target_module(p, &known)).collect();
    assert_eq!(
        targets,
        BTreeSet::from(["core::audit".to_owned(), "core".to_owned(), String::new()])
    );
}
