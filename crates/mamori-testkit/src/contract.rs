//! The spec as the tests' referee: every answer any test receives must be one the committed
//! OpenAPI document promises for that operation — its status listed, and its problem `code`
//! named in that status's description. A bank that generates a client from the spec can then
//! trust it to know every answer.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use serde_json::Value;

/// operationId → status → the codes its description names.
type Promises = HashMap<String, HashMap<u16, BTreeSet<String>>>;

static PROMISES: LazyLock<Promises> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/mamori.json");
    let text = std::fs::read_to_string(path).expect("openapi/mamori.json");
    let spec: Value = serde_json::from_str(&text).expect("spec JSON");
    let mut promises = Promises::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        for op in item.as_object().into_iter().flat_map(|m| m.values()) {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            let statuses = promises.entry(id.to_owned()).or_default();
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                let description = response["description"].as_str().unwrap_or_default();
                statuses.insert(status, backticked(description));
            }
        }
    }
    promises
});

/// Answers seen that the spec does not promise, when recording instead of failing.
static BROKEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn backticked(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Checks one answer of `operation` against the spec. Answers of routes outside the document
/// (`other`: the console's files, `/metrics`) and answers the edge gives before routing (no
/// operation) are not checked here.
pub fn check(operation: &str, status: u16, code: Option<&str>) {
    let Some(statuses) = PROMISES.get(operation) else {
        return;
    };
    let broken = match statuses.get(&status) {
        None => Some(format!(
            "{operation}: status {status} (code {code:?}) is not in the spec"
        )),
        Some(codes) => match code {
            Some(code) if status >= 400 && !codes.contains(code) => Some(format!(
                "{operation}: {status} `{code}` is not named in the spec's {status} description"
            )),
            _ => None,
        },
    };
    if let Some(broken) = broken {
        if std::env::var_os("MAMORI_CONTRACT_RECORD").is_some() {
            let mut seen = BROKEN.lock().unwrap_or_else(|p| p.into_inner());
            if seen.insert(broken.clone()) {
                use std::io::Write;
                if let Ok(mut file) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open("/tmp/mamori-contract.txt")
                {
                    let _ = writeln!(file, "{broken}");
                }
            }
        } else {
            panic!("an answer the OpenAPI document does not promise: {broken}");
        }
    }
}
