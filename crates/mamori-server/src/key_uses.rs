//! Which records need which master key, as the operator reads it in a refused start — shared
//! by every key provider.

use mamori_store::sealed::KeyUse;

/// The distinct key ids of `uses`, sorted.
pub fn key_ids(uses: &[KeyUse]) -> Vec<String> {
    let mut ids: Vec<String> = uses.iter().map(|u| u.key_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// One line per key id and table: how many records, and `why` they matter.
pub fn describe<'a>(uses: impl Iterator<Item = (&'a KeyUse, &'a str)>) -> String {
    uses.map(|(u, why)| {
        format!(
            "  {}: {} ({} record(s) in {}){why}",
            u.key_id, u.table.what, u.records, u.table.name
        )
    })
    .collect::<Vec<_>>()
    .join("\n")
}
