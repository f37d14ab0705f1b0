//! The sealer: links a bank's waiting audit entries (`audit_pending`) into its hash chain
//! (`audit_events`), in one unit of work that holds the chain head. See [`crate::audit`].

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::audit::{GENESIS_HASH, entry_hash};
use crate::db::Database;
use crate::entities::{audit_events, audit_heads, audit_pending};
use crate::error::StoreError;

/// Entries one unit of work seals at most.
pub const SEAL_BATCH: u64 = 1000;

/// What one [`seal`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sealed {
    /// Entries linked into the chain.
    pub entries: u64,
    /// When the oldest of them happened (how long entries waited).
    pub oldest: Option<DateTime<Utc>>,
}

/// Links up to `limit` of `tenant_id`'s waiting entries into its chain, in the order they were
/// inserted, in one unit of work that holds the chain head: each gets the next sequence number
/// and a hash over its predecessor's, then leaves `audit_pending`. Two sealers (on two nodes)
/// queue on the head; the second finds the entries gone. An entry is sealed exactly once, and
/// every committed entry is sealed by the next run, whatever order the transactions that
/// inserted them committed in.
pub async fn seal(db: &Database, tenant_id: &str, limit: u64) -> Result<Sealed, StoreError> {
    let tx = db.write().await?;
    audit_heads::Entity::insert(audit_heads::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        seq: Set(0),
        hash: Set(GENESIS_HASH.to_owned()),
    })
    .on_conflict_do_nothing_on([audit_heads::Column::TenantId])
    .exec_without_returning(&tx)
    .await?;
    // The head's row lock (PostgreSQL; SQLite's write transaction excludes every other writer)
    // makes this unit the only one sealing the bank until it commits.
    let head = audit_heads::Entity::find_by_id(tenant_id.to_owned())
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(|| StoreError::Corrupt("audit head vanished".into()))?;
    let waiting = audit_pending::Entity::find()
        .filter(audit_pending::Column::TenantId.eq(tenant_id))
        .order_by_asc(audit_pending::Column::Id)
        .limit(limit)
        .all(&tx)
        .await?;
    if waiting.is_empty() {
        return Ok(Sealed::default());
    }
    let ids: Vec<i64> = waiting.iter().map(|row| row.id).collect();
    let oldest = waiting.iter().map(|row| row.occurred_at).min();
    let entries = waiting.len() as u64;
    let mut prev_hash = head.hash;
    let mut rows = Vec::with_capacity(waiting.len());
    for (seq, pending) in (head.seq + 1..).zip(waiting) {
        let mut row = audit_events::Model {
            id: 0,
            tenant_id: pending.tenant_id,
            seq,
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
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        row.hash = entry_hash(&row);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    let last_seq = rows.last().map_or(head.seq, |row| row.seq);
    // 14 values a row: 500 rows stay far below either engine's limit on bound parameters.
    for chunk in rows.chunks(500) {
        audit_events::Entity::insert_many(chunk.iter().cloned().map(|row| {
            audit_events::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                tenant_id: Set(row.tenant_id),
                seq: Set(row.seq),
                occurred_at: Set(row.occurred_at),
                actor: Set(row.actor),
                operation: Set(row.operation),
                outcome: Set(row.outcome),
                error_code: Set(row.error_code),
                user_id: Set(row.user_id),
                credential_id: Set(row.credential_id),
                request_id: Set(row.request_id),
                client_addr: Set(row.client_addr),
                details: Set(row.details),
                prev_hash: Set(row.prev_hash),
                hash: Set(row.hash),
            }
        }))
        .exec_without_returning(&tx)
        .await?;
    }
    // Exactly the rows read: one committed meanwhile (even with a smaller id, taken earlier)
    // waits for the next run.
    let removed = audit_pending::Entity::delete_many()
        .filter(audit_pending::Column::Id.is_in(ids))
        .exec(&tx)
        .await?;
    if removed.rows_affected != entries {
        return Err(StoreError::Corrupt(format!(
            "audit entries of {tenant_id} sealed twice or vanished while sealing"
        )));
    }
    audit_heads::Entity::update_many()
        .col_expr(audit_heads::Column::Seq, Expr::value(last_seq))
        .col_expr(audit_heads::Column::Hash, Expr::value(prev_hash))
        .filter(audit_heads::Column::TenantId.eq(tenant_id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(Sealed { entries, oldest })
}

/// Seals every bank's waiting entries (see [`seal`]), a batch at a time; returns how many
/// entries it sealed and when the oldest of them happened.
pub async fn seal_all(db: &Database) -> Result<Sealed, StoreError> {
    let tenants: Vec<String> = audit_pending::Entity::find()
        .select_only()
        .column(audit_pending::Column::TenantId)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut total = Sealed::default();
    for tenant in tenants {
        total.add(seal_tenant(db, &tenant).await?);
    }
    Ok(total)
}

/// Seals everything of `tenant`'s that waits, a batch at a time (see [`seal`]), so a read of
/// its trail after this sees every entry committed before it.
pub async fn seal_tenant(db: &Database, tenant_id: &str) -> Result<Sealed, StoreError> {
    let mut total = Sealed::default();
    loop {
        let sealed = seal(db, tenant_id, SEAL_BATCH).await?;
        total.add(sealed);
        if sealed.entries < SEAL_BATCH {
            return Ok(total);
        }
    }
}

impl Sealed {
    fn add(&mut self, other: Sealed) {
        self.entries += other.entries;
        self.oldest = match (self.oldest, other.oldest) {
            (Some(a), Some(b)) => Some(std::cmp::Ord::min(a, b)),
            (a, b) => a.or(b),
        };
    }
}
