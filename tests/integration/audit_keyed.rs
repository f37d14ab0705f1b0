//! The keyed audit trail, attacked as a database writer without the master key would: a chain
//! rewritten with the old unkeyed hash does not verify, an entry slipped into the waiting table
//! is refused in the trail, and a chain cut back is caught by a checkpoint kept outside. A chain
//! written before the trail was keyed is re-linked only when an operator asks, and only if it
//! checks.

use chrono::{DateTime, Utc};
use data_encoding::HEXLOWER;
use mamori_service::CheckpointStatus;
use mamori_store::entities::{audit_events, audit_pending};
use mamori_testkit::{TestApp, TestEngine, on_both_engines};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use sha2::{Digest, Sha256};

use crate::audit::{all_entries, chain, entry_of, execute, some_operations};

const BANK: &str = "jonan-shinkin";

/// The unkeyed link of the chain as it was before the trail was keyed, which anyone can
/// compute: SHA-256 over the previous link and every field, each length-prefixed (absent: `-`)
/// and ended by a newline.
fn unkeyed_link(row: &audit_events::Model) -> String {
    let occurred = row
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let seq = row.seq.to_string();
    let fields = [
        Some(row.prev_hash.as_str()),
        Some(&row.tenant_id),
        Some(&seq),
        Some(&occurred),
        Some(&row.actor),
        Some(row.operation.as_str()),
        Some(row.outcome.as_str()),
        row.error_code.as_deref(),
        row.user_id.as_deref(),
        row.credential_id.as_deref(),
        row.request_id.as_deref(),
        row.client_addr.as_deref(),
        row.details.as_deref(),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        match field {
            None => hasher.update(b"-"),
            Some(value) => hasher.update(format!("{}:{value}", value.len())),
        }
        hasher.update(b"\n");
    }
    HEXLOWER.encode(&hasher.finalize())
}

async fn chain_rows(app: &TestApp) -> Vec<audit_events::Model> {
    audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(BANK))
        .order_by_asc(audit_events::Column::Seq)
        .all(app.db.connection())
        .await
        .unwrap()
}

/// Re-links the bank's chain from `from_seq` on with unkeyed links and moves the head, as a
/// database writer could before the trail was keyed.
async fn relink_unkeyed(app: &TestApp, from_seq: i64) {
    let mut prev = None;
    for mut row in chain_rows(app).await {
        if row.seq >= from_seq {
            if let Some(prev) = prev.take() {
                row.prev_hash = prev;
            }
            row.hash = unkeyed_link(&row);
            execute(
                app,
                &format!(
                    "UPDATE audit_events SET prev_hash = '{}', hash = '{}' WHERE id = {}",
                    row.prev_hash, row.hash, row.id
                ),
            )
            .await;
        }
        prev = Some(row.hash);
    }
    let last = chain_rows(app).await.pop().unwrap();
    execute(
        app,
        &format!(
            "UPDATE audit_heads SET seq = {}, hash = '{}' WHERE tenant_id = '{BANK}'",
            last.seq, last.hash
        ),
    )
    .await;
}

/// A row written straight into the waiting table, claiming a successful login.
async fn slip_in(app: &TestApp, user: &str, request_id: &str, mac: Option<String>) {
    let at: DateTime<Utc> = mamori_domain::Clock::now(&*app.clock);
    audit_pending::ActiveModel {
        id: NotSet,
        tenant_id: Set(BANK.into()),
        occurred_at: Set(at),
        actor: Set("bank:forged".into()),
        operation: Set(mamori_domain::Operation::VerifyOtp),
        outcome: Set(mamori_domain::AuditOutcome::Success),
        error_code: Set(None),
        user_id: Set(Some(user.into())),
        credential_id: Set(None),
        request_id: Set(Some(request_id.into())),
        client_addr: Set(Some("192.0.2.1".into())),
        details: Set(None),
        mac: Set(mac),
    }
    .insert(app.db.connection())
    .await
    .unwrap();
}

/// Before the trail was keyed, whoever could write the database could turn a failure into a
/// success and recompute every link after it: the chain verified. With keyed links it does not.
async fn rewriting_the_chain_without_the_key_is_caught(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    some_operations(&app, &bank).await;
    let entries = all_entries(&bank).await;
    let seq = entry_of(&entries, "req-wrong")["seq"].as_i64().unwrap();

    execute(
        &app,
        &format!(
            "UPDATE audit_events SET outcome = 'success', error_code = NULL \
             WHERE tenant_id = '{BANK}' AND seq = {seq}"
        ),
    )
    .await;
    relink_unkeyed(&app, seq).await;
    // The rewrite took, links and head included...
    let rows = chain_rows(&app).await;
    assert!(rows.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    assert_eq!(
        entry_of(&all_entries(&bank).await, "req-wrong")["outcome"],
        "success"
    );
    // ...and the keyed check finds the first entry it touched.
    let check = chain(&bank).await;
    assert_eq!(check["intact"], false, "{check}");
    assert_eq!(check["broken_at_seq"].as_i64(), Some(seq), "{check}");
}
on_both_engines!(rewriting_the_chain_without_the_key_is_caught);

/// An entry written straight into the waiting table (no MAC, or a made-up one) is not sealed as
/// the login it claims: the trail shows a `refuseAuditEntry` alert in its place, under the user
/// it named, with what it claimed; the chain stays intact.
async fn an_entry_slipped_in_without_the_key_is_refused(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let history = some_operations(&app, &bank).await;
    slip_in(&app, &history.user, "req-forged", None).await;
    slip_in(&app, &history.user, "req-forged-mac", Some("ab".repeat(32))).await;

    let entries = all_entries(&bank).await;
    assert!(
        !entries
            .iter()
            .any(|e| e["operation"] == "verifyOtp" && e["actor"] == "bank:forged"),
        "{entries:?}"
    );
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e["operation"] == "refuseAuditEntry")
        .collect();
    assert_eq!(refused.len(), 2, "{entries:?}");
    for (entry, claimed_id) in refused.iter().rev().zip(["req-forged", "req-forged-mac"]) {
        assert_eq!(entry["outcome"], "failure", "{entry}");
        assert_eq!(entry["actor"], "system", "{entry}");
        assert_eq!(entry["user_id"], history.user.as_str(), "{entry}");
        assert!(entry["request_id"].is_null(), "{entry}");
        let details = entry["details"].to_string();
        assert!(details.contains(claimed_id), "{entry}");
        assert!(details.contains("verifyOtp"), "{entry}");
    }
    assert_eq!(chain(&bank).await["intact"], true);
    // What the product itself writes still goes in as itself.
    let user = bank.create_user("9000077", None).await;
    let entries = all_entries(&bank).await;
    assert!(
        entries
            .iter()
            .any(|e| e["operation"] == "createUser" && e["user_id"] == user.as_str())
    );
}
on_both_engines!(an_entry_slipped_in_without_the_key_is_refused);

/// The keyed chain alone cannot see the newest entries removed and the head moved back to an
/// earlier entry; a checkpoint signed before and kept outside can, and an edited checkpoint
/// is not trusted.
async fn a_checkpoint_kept_outside_catches_a_chain_cut_back(engine: TestEngine) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    some_operations(&app, &bank).await;
    let audit = &app.state.services.audit;
    let checkpoints = audit.checkpoints(&[BANK.to_owned()]).await.unwrap();
    assert_eq!(checkpoints.len(), 1);
    let newest = all_entries(&bank).await[0]["seq"].as_i64().unwrap();
    assert_eq!(checkpoints[0].seq, newest);
    assert_eq!(
        audit.check_checkpoints(&checkpoints).await.unwrap(),
        [CheckpointStatus::Holds]
    );
    // What happens after the checkpoint does not disturb it.
    bank.create_user("9000078", None).await;
    assert_eq!(
        audit.check_checkpoints(&checkpoints).await.unwrap(),
        [CheckpointStatus::Holds]
    );

    // A writer removes everything after entry `keep` and sets the head there.
    let keep = newest - 2;
    let kept = chain_rows(&app).await[keep as usize - 1].clone();
    execute(
        &app,
        &format!("DELETE FROM audit_events WHERE tenant_id = '{BANK}' AND seq > {keep}"),
    )
    .await;
    execute(
        &app,
        &format!(
            "UPDATE audit_heads SET seq = {keep}, hash = '{}' WHERE tenant_id = '{BANK}'",
            kept.hash
        ),
    )
    .await;
    assert_eq!(chain(&bank).await["intact"], true, "the keyed chain alone");
    assert_eq!(
        audit.check_checkpoints(&checkpoints).await.unwrap(),
        [CheckpointStatus::Cut]
    );
    // Once the chain grows past the checkpoint again, another entry stands at its place.
    for n in 0..3 {
        bank.create_user(&format!("900008{n}"), None).await;
    }
    assert_eq!(
        audit.check_checkpoints(&checkpoints).await.unwrap(),
        [CheckpointStatus::Changed]
    );
    // A checkpoint edited to fit the cut chain is not this deployment's any more.
    let mut edited = checkpoints[0].clone();
    (edited.seq, edited.link) = (keep, kept.hash);
    assert!(matches!(
        audit.check_checkpoints(&[edited]).await.unwrap()[..],
        [CheckpointStatus::NotOurs(_)]
    ));
}
on_both_engines!(a_checkpoint_kept_outside_catches_a_chain_cut_back);

/// A chain written before the trail was keyed (unkeyed links, its head not keyed, an entry
/// waiting from before the upgrade with no MAC): nothing is sealed into it and its check says
/// so, until an operator re-keys it; the re-key checks the old links, re-links every entry with
/// the key, records a `keyAuditChain` entry and takes the waiting entry as itself once. A
/// chain that does not check is not re-linked.
async fn an_unkeyed_chain_is_relinked_only_by_an_operator_and_only_if_it_checks(
    engine: TestEngine,
) {
    let app = TestApp::new(engine).await;
    let bank = app.bank(BANK).await;
    let history = some_operations(&app, &bank).await;
    let before = all_entries(&bank).await.len() as u64;
    relink_unkeyed(&app, 1).await;
    execute(
        &app,
        &format!("UPDATE audit_heads SET keyed = FALSE WHERE tenant_id = '{BANK}'"),
    )
    .await;
    slip_in(&app, &history.user, "req-before-upgrade", None).await;
    let audit = &app.state.services.audit;
    assert_eq!(audit.unkeyed_trails().await.unwrap(), [BANK]);

    // No node seals into it; its check says why; the waiting entry waits.
    assert!(audit.seal_all().await.is_err());
    let check = chain(&bank).await;
    assert_eq!(check["intact"], false, "{check}");
    assert!(
        check["reason"].as_str().unwrap().contains("rekey"),
        "{check}"
    );
    assert_eq!(all_entries(&bank).await.len() as u64, before);

    let done = audit.rekey().await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].0, BANK);
    assert_eq!(done[0].1.relinked, before);
    assert_eq!(done[0].1.entries, 1);
    assert!(audit.unkeyed_trails().await.unwrap().is_empty());
    let entries = all_entries(&bank).await;
    let keyed = entries
        .iter()
        .find(|e| e["operation"] == "keyAuditChain")
        .expect("the re-key is in the trail");
    assert_eq!(keyed["seq"].as_i64(), Some(before as i64 + 1), "{keyed}");
    assert!(
        keyed["details"].to_string().contains(&format!("{before}")),
        "{keyed}"
    );
    let upgraded = entry_of(&entries, "req-before-upgrade");
    assert_eq!(upgraded["operation"], "verifyOtp", "{upgraded}");
    let check = chain(&bank).await;
    assert_eq!(check["intact"], true, "{check}");
    assert_eq!(check["entries"].as_u64(), Some(before + 2), "{check}");
    // From now on an entry with no MAC is refused.
    slip_in(&app, &history.user, "req-after-upgrade", None).await;
    let entries = all_entries(&bank).await;
    assert!(
        !entries
            .iter()
            .any(|e| e["request_id"] == "req-after-upgrade")
    );
    assert_eq!(entries[0]["operation"], "refuseAuditEntry");

    // An unkeyed chain someone edited without fixing its links is left as it is.
    relink_unkeyed(&app, 1).await;
    execute(
        &app,
        &format!("UPDATE audit_heads SET keyed = FALSE WHERE tenant_id = '{BANK}'"),
    )
    .await;
    execute(
        &app,
        &format!(
            "UPDATE audit_events SET outcome = 'success', error_code = NULL \
             WHERE tenant_id = '{BANK}' AND request_id = 'req-wrong'"
        ),
    )
    .await;
    let err = audit.rekey().await.unwrap_err();
    assert!(
        err.to_string().contains("does not check at entry 3"),
        "{err}"
    );
    assert_eq!(audit.unkeyed_trails().await.unwrap(), [BANK]);
}
on_both_engines!(an_unkeyed_chain_is_relinked_only_by_an_operator_and_only_if_it_checks);
