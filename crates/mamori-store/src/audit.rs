//! The audit trail: every attempt and state change, appended in the same transaction as the
//! change it records, linked per tenant into a SHA-256 hash chain so a deleted or edited entry
//! is detectable.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use data_encoding::HEXLOWER;
use mamori_domain::{AuditOutcome, Operation};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sha2::{Digest, Sha256};

use crate::entities::{audit_events, audit_heads};
use crate::error::StoreError;

/// The hash a chain starts from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Events that belong to no bank (e.g. token provisioning) go into this chain.
pub const PLATFORM_TENANT: &str = "platform";

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// The bank, or [`PLATFORM_TENANT`].
    pub tenant_id: String,
    /// Who acted: `bank:<api key id>`, `token`, `operator:<name>`, `system`.
    pub actor: String,
    /// What was done.
    pub operation: Operation,
    /// How it ended (a failure names its error code).
    pub outcome: AuditOutcome,
    /// The stable error code of a failure.
    pub error_code: Option<String>,
    /// The bank user concerned.
    pub user_id: Option<String>,
    /// The credential concerned.
    pub credential_id: Option<String>,
    /// The request's ID.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Extra facts (never a secret, code or password), as a JSON object.
    pub details: Option<serde_json::Value>,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in its tenant's chain, from 1.
    pub seq: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub operation: Operation,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The error code of a failure.
    pub error_code: Option<String>,
    /// The bank user concerned.
    pub user_id: Option<String>,
    /// The credential concerned.
    pub credential_id: Option<String>,
    /// The request's ID.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Extra facts as JSON text.
    pub details: Option<String>,
    /// This entry's hash.
    pub hash: String,
}

impl From<audit_events::Model> for AuditEvent {
    fn from(row: audit_events::Model) -> Self {
        Self {
            seq: row.seq,
            occurred_at: row.occurred_at,
            actor: row.actor,
            operation: row.operation,
            outcome: row.outcome,
            error_code: row.error_code,
            user_id: row.user_id,
            credential_id: row.credential_id,
            request_id: row.request_id,
            client_addr: row.client_addr,
            details: row.details,
            hash: row.hash,
        }
    }
}

/// The result of checking a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every entry links to its predecessor and the head matches the last entry.
    Intact {
        /// Number of entries checked.
        entries: u64,
    },
    /// The chain is broken at this sequence number.
    Broken {
        /// The first sequence number that does not check out.
        at_seq: i64,
        /// Why.
        reason: String,
    },
}

/// Appends `event` at `now` inside the caller's transaction. Call it last in the transaction:
/// it locks the tenant's chain head until commit.
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    event: NewAuditEvent,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    append_all(conn, vec![event], now).await
}

/// Appends `events`, all of one tenant's chain, in order at `now`, with one move of the chain
/// head for all of them (a batch such as a token import would otherwise hold the head for a
/// round trip per entry). Call it last in the transaction, as [`append`].
pub async fn append_all<C: ConnectionTrait>(
    conn: &C,
    events: Vec<NewAuditEvent>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(tenant_id) = events.first().map(|e| e.tenant_id.clone()) else {
        return Ok(());
    };
    if events.iter().any(|e| e.tenant_id != tenant_id) {
        return Err(StoreError::Corrupt(
            "one batch of audit entries spans two chains".into(),
        ));
    }
    let count = i64::try_from(events.len())
        .map_err(|_| StoreError::Corrupt("audit batch too large".into()))?;
    // Microseconds: what both engines store, so the hash recomputes from stored values.
    let occurred_at = now
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now);
    audit_heads::Entity::insert(audit_heads::ActiveModel {
        tenant_id: Set(tenant_id.clone()),
        seq: Set(0),
        hash: Set(GENESIS_HASH.to_owned()),
    })
    .on_conflict_do_nothing_on([audit_heads::Column::TenantId])
    .exec(conn)
    .await?;
    // The increment takes the row lock; the read after it sees our own write, with the hash
    // still that of the last entry before ours.
    audit_heads::Entity::update_many()
        .col_expr(
            audit_heads::Column::Seq,
            Expr::col(audit_heads::Column::Seq).add(count),
        )
        .filter(audit_heads::Column::TenantId.eq(tenant_id.clone()))
        .exec(conn)
        .await?;
    let head = audit_heads::Entity::find_by_id(tenant_id.clone())
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("audit head vanished".into()))?;
    let mut prev_hash = head.hash;
    let mut rows = Vec::with_capacity(events.len());
    for (seq, event) in (head.seq - count + 1..).zip(events) {
        let mut row = audit_events::Model {
            id: 0,
            tenant_id: tenant_id.clone(),
            seq,
            occurred_at,
            actor: event.actor,
            operation: event.operation,
            outcome: event.outcome,
            error_code: event.error_code,
            user_id: event.user_id,
            credential_id: event.credential_id,
            request_id: event.request_id,
            client_addr: event.client_addr,
            details: event.details.as_ref().map(serde_json::Value::to_string),
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        row.hash = entry_hash(&row);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    audit_heads::Entity::update_many()
        .col_expr(audit_heads::Column::Hash, Expr::value(prev_hash))
        .filter(audit_heads::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
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
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// SHA-256 over the previous hash and every field of the entry, each length-prefixed so no
/// two different entries serialise alike.
fn entry_hash(row: &audit_events::Model) -> String {
    let occurred = row
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let seq = row.seq.to_string();
    let fields: [Option<&str>; 13] = [
        Some(&row.prev_hash),
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
            Some(value) => {
                hasher.update(value.len().to_string().as_bytes());
                hasher.update(b":");
                hasher.update(value.as_bytes());
            }
        }
        hasher.update(b"\n");
    }
    HEXLOWER.encode(&hasher.finalize())
}

/// A page of a tenant's audit events, newest first, after the cursor (a sequence number).
pub async fn list_audit_events<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    before_seq: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut query = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(tenant_id))
        .order_by_desc(audit_events::Column::Seq)
        .limit(limit);
    if let Some(seq) = before_seq {
        query = query.filter(audit_events::Column::Seq.lt(seq));
    }
    Ok(query
        .all(conn)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}

/// Recomputes a tenant's whole chain: every entry's hash, every link, no gaps, and the
/// head matching the last entry (so deleting the newest entries is caught too).
pub async fn verify_audit_chain<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<ChainCheck, StoreError> {
    let head = audit_heads::Entity::find_by_id(tenant_id.to_owned())
        .one(conn)
        .await?;
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
    let mut entries = 0;
    loop {
        let page = audit_events::Entity::find()
            .filter(audit_events::Column::TenantId.eq(tenant_id))
            .filter(audit_events::Column::Seq.gte(expected_seq))
            .order_by_asc(audit_events::Column::Seq)
            .limit(1000)
            .all(conn)
            .await?;
        if page.is_empty() {
            break;
        }
        for row in page {
            let broken = |reason: &str| ChainCheck::Broken {
                at_seq: expected_seq,
                reason: reason.to_owned(),
            };
            if row.seq != expected_seq {
                return Ok(broken("an entry is missing"));
            }
            if row.prev_hash != expected_prev {
                return Ok(broken("the link to the previous entry does not match"));
            }
            if entry_hash(&row) != row.hash {
                return Ok(broken("the entry was altered"));
            }
            expected_prev = row.hash;
            expected_seq += 1;
            entries += 1;
        }
    }
    let (head_seq, head_hash) = head.map_or((0, GENESIS_HASH.to_owned()), |h| (h.seq, h.hash));
    if head_seq != expected_seq - 1 || head_hash != expected_prev {
        return Ok(ChainCheck::Broken {
            at_seq: expected_seq,
            reason: "entries after this one were removed".into(),
        });
    }
    Ok(ChainCheck::Intact { entries })
}
