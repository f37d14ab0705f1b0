//! The sealer: links a bank's waiting audit entries (`audit_pending`) into its hash chain
//! (`audit_events`), in one unit of work that holds the chain head. See [`crate::audit`].

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use mamori_domain::{AuditOutcome, Operation};

use crate::audit::{AuditKey, GENESIS_HASH, legacy_entry_hash, stored_time};
use crate::db::{Database, WriteTx};
use crate::entities::{audit_events, audit_heads, audit_pending};
use crate::error::StoreError;

/// Entries one unit of work seals at most.
pub const SEAL_BATCH: u64 = 1000;

/// What one [`seal`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sealed {
    /// Waiting entries taken into the chain (refused ones included).
    pub entries: u64,
    /// When the oldest of them happened (how long entries waited).
    pub oldest: Option<DateTime<Utc>>,
    /// Waiting entries whose MAC did not check: each was replaced in the chain by a
    /// `refuseAuditEntry` entry naming what it claimed.
    pub refused: u64,
    /// Entries of a chain written before the trail was keyed, checked and re-linked with the
    /// key (once per bank).
    pub relinked: u64,
}

/// Links up to `limit` of `tenant_id`'s waiting entries into its chain, in the order they were
/// inserted, in one unit of work that holds the chain head: each gets the next sequence number
/// and a keyed link over its predecessor's, then leaves `audit_pending`. Two sealers (on two
/// nodes) queue on the head; the second finds the entries gone. An entry is sealed exactly
/// once, and every committed entry is sealed by the next run, whatever order the transactions
/// that inserted them committed in.
///
/// A waiting entry whose MAC does not check (written without the key, e.g. straight into the
/// database) is not sealed as what it claims: a `refuseAuditEntry` entry at `now` takes its
/// place and names what it claimed. A chain written before the trail was keyed is refused
/// until an operator has re-linked it (see [`relink`]).
pub async fn seal(
    db: &Database,
    tenant_id: &str,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Sealed, StoreError> {
    seal_or_relink(db, tenant_id, limit, now, false).await
}

/// Re-links `tenant_id`'s chain written before the trail was keyed, then seals up to `limit`
/// of its waiting entries, those written before the upgrade (with no MAC) included; nothing
/// happens to a chain already keyed but what [`seal`] does. See [`relink_legacy`].
///
/// Only an operator starts this (`mamori audit rekey`), once, at the upgrade: whether a chain
/// is legacy is written in the database, where a writer could set it back, so no node ever
/// re-links on its own.
pub async fn relink(
    db: &Database,
    tenant_id: &str,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Sealed, StoreError> {
    seal_or_relink(db, tenant_id, limit, now, true).await
}

async fn seal_or_relink(
    db: &Database,
    tenant_id: &str,
    limit: u64,
    now: DateTime<Utc>,
    relink_allowed: bool,
) -> Result<Sealed, StoreError> {
    let key = db.audit_key()?.clone();
    let tx = db.write().await?;
    open_heads(&tx, [tenant_id.to_owned()]).await?;
    // The head's row lock (PostgreSQL; SQLite's write transaction excludes every other writer)
    // makes this unit the only one sealing the bank until it commits.
    let head = audit_heads::Entity::find_by_id(tenant_id.to_owned())
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(|| StoreError::Corrupt("audit head vanished".into()))?;
    let legacy = !head.keyed;
    if legacy && !relink_allowed {
        return Err(StoreError::Unkeyed(tenant_id.to_owned()));
    }
    let waiting = audit_pending::Entity::find()
        .filter(audit_pending::Column::TenantId.eq(tenant_id))
        .order_by_asc(audit_pending::Column::Id)
        .limit(limit)
        .all(&tx)
        .await?;
    if waiting.is_empty() && !legacy {
        return Ok(Sealed::default());
    }
    let mut sealed = Sealed {
        entries: waiting.len() as u64,
        oldest: waiting.iter().map(|row| row.occurred_at).min(),
        ..Sealed::default()
    };
    let ids: Vec<i64> = waiting.iter().map(|row| row.id).collect();
    let mut prev_hash = head.hash.clone();
    let mut entries = Vec::with_capacity(waiting.len() + 1);
    if legacy {
        (sealed.relinked, prev_hash) = relink_legacy(&tx, &key, &head).await?;
        entries.push(chain_keyed(tenant_id, &head, sealed.relinked, now));
    }
    for pending in waiting {
        // Entries written before the upgrade carry no MAC; only a chain not yet keyed takes
        // them, once.
        if key.pending_mac_matches(&pending) || (legacy && pending.mac.is_none()) {
            entries.push(unlinked(pending));
        } else {
            sealed.refused += 1;
            entries.push(refusal(pending, now));
        }
    }
    let mut rows = Vec::with_capacity(entries.len());
    for (seq, mut row) in (head.seq + 1..).zip(entries) {
        row.seq = seq;
        row.prev_hash = prev_hash;
        row.hash = key.entry_hash(&row);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    let last_seq = rows.last().map_or(head.seq, |row| row.seq);
    let removed = move_into_chain(&tx, &rows, &ids).await?;
    if removed != sealed.entries {
        return Err(StoreError::Corrupt(format!(
            "audit entries of {tenant_id} sealed twice or vanished while sealing"
        )));
    }
    audit_heads::Entity::update_many()
        .col_expr(audit_heads::Column::Seq, Expr::value(last_seq))
        .col_expr(audit_heads::Column::Hash, Expr::value(prev_hash))
        .col_expr(audit_heads::Column::Keyed, Expr::value(true))
        .filter(audit_heads::Column::TenantId.eq(tenant_id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(sealed)
}

/// A waiting entry as a chain entry, before its place in the chain is known.
fn unlinked(pending: audit_pending::Model) -> audit_events::Model {
    audit_events::Model {
        id: 0,
        tenant_id: pending.tenant_id,
        seq: 0,
        occurred_at: pending.occurred_at,
        actor: pending.actor,
        operation: pending.operation,
        outcome: pending.outcome,
        error_code: pending.error_code,
        user_id: pending.user_id,
        credential_id: pending.credential_id,
        request_id: pending.request_id,
        client_addr: pending.client_addr,
        details: pending.details,
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// An entry the sealer writes itself: the system acting at `now`.
fn system_entry(
    tenant_id: &str,
    operation: Operation,
    outcome: AuditOutcome,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> audit_events::Model {
    audit_events::Model {
        id: 0,
        tenant_id: tenant_id.to_owned(),
        seq: 0,
        occurred_at: stored_time(now),
        actor: "system".to_owned(),
        operation,
        outcome,
        error_code: None,
        user_id: None,
        credential_id: None,
        request_id: None,
        client_addr: None,
        details: Some(details.to_string()),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// What takes a forged waiting entry's place: an alert naming what it claimed, under the user
/// and token it claimed to concern (so it shows in their trail), never as that event.
fn refusal(pending: audit_pending::Model, now: DateTime<Utc>) -> audit_events::Model {
    let reason = if pending.mac.is_some() {
        "its MAC does not check"
    } else {
        "it carries no MAC"
    };
    let claimed = serde_json::json!({
        "operation": pending.operation.as_str(),
        "outcome": pending.outcome.as_str(),
        "actor": pending.actor,
        "occurredAt": pending.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "errorCode": pending.error_code,
        "requestId": pending.request_id,
        "clientAddr": pending.client_addr,
        "details": pending.details,
    });
    let mut row = system_entry(
        &pending.tenant_id,
        Operation::RefuseAuditEntry,
        AuditOutcome::Failure,
        serde_json::json!({ "reason": reason, "claimed": claimed }),
        now,
    );
    row.user_id = pending.user_id;
    row.credential_id = pending.credential_id;
    row
}

/// The entry that records a legacy chain's re-linking: how many entries and which unkeyed head
/// were checked, so an exported checkpoint of the old chain can still be compared.
fn chain_keyed(
    tenant_id: &str,
    legacy_head: &audit_heads::Model,
    relinked: u64,
    now: DateTime<Utc>,
) -> audit_events::Model {
    system_entry(
        tenant_id,
        Operation::KeyAuditChain,
        AuditOutcome::Success,
        serde_json::json!({ "relinkedEntries": relinked, "unkeyedHead": legacy_head.hash }),
        now,
    )
}

/// Re-links a chain written before the trail was keyed: checks every entry against its old
/// unkeyed SHA-256 link (in order, no gaps, the head on the last), then rewrites each link
/// with the key, inside the sealer's unit of work. A chain that does not check is left as it
/// is and the sealer refuses to go on for that bank: re-linking it would launder whatever was
/// done to it. Returns how many entries it re-linked and the keyed link of the last.
///
/// It runs when an operator asks, for a head that says unkeyed. A database writer who sets that
/// flag back stops the bank's sealing (and every node's start) until an operator looks; an
/// operator who then re-links a chain the writer rewrote leaves a second `keyAuditChain` entry
/// in the trail, and every checkpoint exported before no longer matches.
async fn relink_legacy(
    tx: &WriteTx,
    key: &AuditKey,
    head: &audit_heads::Model,
) -> Result<(u64, String), StoreError> {
    let tenant_id = &head.tenant_id;
    let (mut legacy_prev, mut keyed_prev) = (GENESIS_HASH.to_owned(), GENESIS_HASH.to_owned());
    let mut expected_seq = 1;
    loop {
        let page = crate::chain::page_from(tx, tenant_id, expected_seq).await?;
        if page.is_empty() {
            break;
        }
        for mut row in page {
            if row.seq != expected_seq
                || row.prev_hash != legacy_prev
                || legacy_entry_hash(&row) != row.hash
            {
                return Err(StoreError::Corrupt(format!(
                    "the unkeyed audit chain of {tenant_id} does not check at entry \
                     {expected_seq}; it was not re-linked with the key, and nothing of the \
                     bank is sealed until an operator has looked (mamori audit verify)"
                )));
            }
            legacy_prev = std::mem::take(&mut row.hash);
            row.prev_hash = std::mem::take(&mut keyed_prev);
            row.hash = key.entry_hash(&row);
            keyed_prev = row.hash.clone();
            audit_events::Entity::update_many()
                .col_expr(audit_events::Column::PrevHash, Expr::value(row.prev_hash))
                .col_expr(audit_events::Column::Hash, Expr::value(row.hash))
                .filter(audit_events::Column::Id.eq(row.id))
                .exec(tx)
                .await?;
            expected_seq += 1;
        }
    }
    if head.seq != expected_seq - 1 || head.hash != legacy_prev {
        return Err(StoreError::Corrupt(format!(
            "the unkeyed audit chain of {tenant_id} lost entries after {}; it was not \
             re-linked with the key",
            expected_seq - 1
        )));
    }
    Ok(((expected_seq - 1) as u64, keyed_prev))
}

/// Seals every bank's waiting entries, a batch at a time; returns what it did.
///
/// One unit of work seals every bank that has entries waiting (up to [`SEAL_BATCH`] entries in
/// all), holding their chain heads — locked in the order of their IDs, so sealers on two nodes
/// queue instead of deadlocking — and writing each bank's links exactly as [`seal`] does. With
/// 250 banks a unit per bank was some 1,750 statements every [`SEAL_BATCH`] run; this is about
/// six. A chain written before the trail was keyed is left for `mamori audit rekey` (the error
/// names it) while every other bank is sealed.
pub async fn seal_all(db: &Database, now: DateTime<Utc>) -> Result<Sealed, StoreError> {
    let mut total = Sealed::default();
    loop {
        let (sealed, unkeyed) = seal_many(db, SEAL_BATCH, now).await?;
        total.add(sealed);
        if let Some(tenant) = unkeyed {
            tracing::error!(tenant = %tenant, "audit entries of this trail cannot be sealed: its chain is not keyed");
            return Err(StoreError::Unkeyed(tenant));
        }
        if sealed.entries < SEAL_BATCH {
            return Ok(total);
        }
    }
}

/// One unit of [`seal_all`]: up to `limit` waiting entries of every bank whose chain is keyed,
/// and the first bank (if any) left waiting because its chain is not.
async fn seal_many(
    db: &Database,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<(Sealed, Option<String>), StoreError> {
    let key = db.audit_key()?.clone();
    let waiting_banks: Vec<String> = audit_pending::Entity::find()
        .select_only()
        .column(audit_pending::Column::TenantId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    if waiting_banks.is_empty() {
        return Ok((Sealed::default(), None));
    }
    let tx = db.write().await?;
    open_heads(&tx, waiting_banks.iter().cloned()).await?;
    // Every head in one order: a sealer on another node waits for the first it shares.
    let heads = audit_heads::Entity::find()
        .filter(audit_heads::Column::TenantId.is_in(waiting_banks.iter().cloned()))
        .order_by_asc(audit_heads::Column::TenantId)
        .lock_exclusive()
        .all(&tx)
        .await?;
    let unkeyed = heads
        .iter()
        .find(|head| !head.keyed)
        .map(|head| head.tenant_id.clone());
    let mut heads: std::collections::BTreeMap<String, audit_heads::Model> = heads
        .into_iter()
        .filter(|head| head.keyed)
        .map(|head| (head.tenant_id.clone(), head))
        .collect();
    // Read under the heads' locks: no other sealer takes these entries meanwhile.
    let waiting = audit_pending::Entity::find()
        .filter(audit_pending::Column::TenantId.is_in(heads.keys().cloned()))
        .order_by_asc(audit_pending::Column::Id)
        .limit(limit)
        .all(&tx)
        .await?;
    if waiting.is_empty() {
        return Ok((Sealed::default(), unkeyed));
    }
    let mut sealed = Sealed {
        entries: waiting.len() as u64,
        oldest: waiting.iter().map(|row| row.occurred_at).min(),
        ..Sealed::default()
    };
    let ids: Vec<i64> = waiting.iter().map(|row| row.id).collect();
    let mut rows = Vec::with_capacity(waiting.len());
    let mut moved = std::collections::BTreeSet::new();
    for pending in waiting {
        let head = heads
            .get_mut(&pending.tenant_id)
            .ok_or_else(|| StoreError::Corrupt("an entry of a bank not locked".into()))?;
        let mut row = if key.pending_mac_matches(&pending) {
            unlinked(pending)
        } else {
            sealed.refused += 1;
            refusal(pending, now)
        };
        row.seq = head.seq + 1;
        row.prev_hash = std::mem::take(&mut head.hash);
        row.hash = key.entry_hash(&row);
        head.seq = row.seq;
        head.hash = row.hash.clone();
        moved.insert(row.tenant_id.clone());
        rows.push(row);
    }
    let removed = move_into_chain(&tx, &rows, &ids).await?;
    if removed != sealed.entries {
        return Err(StoreError::Corrupt(
            "audit entries sealed twice or vanished while sealing".into(),
        ));
    }
    let moved: Vec<&audit_heads::Model> = moved.iter().map(|tenant| &heads[tenant]).collect();
    // Three values a head: 250 banks stay far below either engine's limit.
    for chunk in moved.chunks(500) {
        tx.execute_raw(move_heads(tx.get_database_backend(), chunk))
            .await?;
    }
    tx.commit().await?;
    Ok((sealed, unkeyed))
}

/// Inserts the linked `rows` into the chain and deletes the waiting entries `ids` they were
/// made from; returns how many waiting entries it deleted.
async fn move_into_chain(
    tx: &WriteTx,
    rows: &[audit_events::Model],
    ids: &[i64],
) -> Result<u64, StoreError> {
    // 14 values a row: 500 rows stay far below either engine's limit on bound parameters.
    for chunk in rows.chunks(500) {
        audit_events::Entity::insert_many(chunk.iter().cloned().map(|row| {
            let mut active = audit_events::ActiveModel::from(row).reset_all();
            active.id = sea_orm::ActiveValue::NotSet;
            active
        }))
        .exec_without_returning(tx)
        .await?;
    }
    // Exactly the rows read: one committed meanwhile (even with a smaller id, taken earlier)
    // waits for the next run.
    let mut removed = 0;
    for chunk in ids.chunks(1000) {
        removed += audit_pending::Entity::delete_many()
            .filter(audit_pending::Column::Id.is_in(chunk.iter().copied()))
            .exec(tx)
            .await?
            .rows_affected;
    }
    Ok(removed)
}

/// Starts the chains of `tenants` that have none yet, at the genesis hash (keyed).
async fn open_heads(
    tx: &WriteTx,
    tenants: impl IntoIterator<Item = String>,
) -> Result<(), StoreError> {
    audit_heads::Entity::insert_many(tenants.into_iter().map(|tenant| audit_heads::ActiveModel {
        tenant_id: Set(tenant),
        seq: Set(0),
        hash: Set(GENESIS_HASH.to_owned()),
        keyed: Set(true),
    }))
    .on_conflict_do_nothing_on([audit_heads::Column::TenantId])
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// One statement that moves each of `heads` to its new sequence number and hash.
fn move_heads(backend: DbBackend, heads: &[&audit_heads::Model]) -> Statement {
    let mut values: Vec<Value> = Vec::with_capacity(heads.len() * 3);
    let rows = heads
        .iter()
        .enumerate()
        .map(|(i, head)| {
            values.extend([
                head.tenant_id.clone().into(),
                head.seq.into(),
                head.hash.clone().into(),
            ]);
            match backend {
                DbBackend::Postgres => {
                    format!("(${}, ${}::bigint, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3)
                }
                _ => "(?, ?, ?)".to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    // SQLite names a VALUES list's columns column1, column2, …; PostgreSQL takes aliases.
    let sql = match backend {
        DbBackend::Postgres => format!(
            "UPDATE audit_heads SET seq = v.seq, hash = v.hash \
             FROM (VALUES {rows}) AS v(tenant_id, seq, hash) \
             WHERE audit_heads.tenant_id = v.tenant_id"
        ),
        _ => format!(
            "UPDATE audit_heads SET seq = v.column2, hash = v.column3 \
             FROM (VALUES {rows}) AS v WHERE audit_heads.tenant_id = v.column1"
        ),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Seals everything of `tenant`'s that waits, a batch at a time (see [`seal`]), so a read of
/// its trail after this sees every entry committed before it.
pub async fn seal_tenant(
    db: &Database,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<Sealed, StoreError> {
    let mut total = Sealed::default();
    loop {
        let sealed = seal(db, tenant_id, SEAL_BATCH, now).await?;
        total.add(sealed);
        if sealed.entries < SEAL_BATCH {
            return Ok(total);
        }
    }
}

impl Sealed {
    fn add(&mut self, other: Sealed) {
        self.entries += other.entries;
        self.refused += other.refused;
        self.relinked += other.relinked;
        self.oldest = match (self.oldest, other.oldest) {
            (Some(a), Some(b)) => Some(std::cmp::Ord::min(a, b)),
            (a, b) => a.or(b),
        };
    }
}

/// The chains written before the trail was keyed and not re-linked yet.
pub async fn unkeyed(db: &Database) -> Result<Vec<String>, StoreError> {
    Ok(audit_heads::Entity::find()
        .select_only()
        .column(audit_heads::Column::TenantId)
        .filter(audit_heads::Column::Keyed.eq(false))
        .order_by_asc(audit_heads::Column::TenantId)
        .into_tuple()
        .all(db)
        .await?)
}

/// Re-links every chain not yet keyed and seals what waits in it (see [`relink`]).
pub async fn relink_all(
    db: &Database,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Sealed)>, StoreError> {
    let mut done = Vec::new();
    for tenant in unkeyed(db).await? {
        // Every entry left from before the upgrade is taken in this one run: after it, one
        // without a MAC is refused.
        let mut total = relink(db, &tenant, i64::MAX as u64, now).await?;
        total.add(seal_tenant(db, &tenant, now).await?);
        done.push((tenant, total));
    }
    Ok(done)
}
