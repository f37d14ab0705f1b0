//! The audit trail: every attempt and state change, appended in the same transaction as the
//! change it records, and linked per tenant into a SHA-256 hash chain so a deleted or edited
//! entry is detectable.
//!
//! Appending and linking are two steps. A decision inserts its entry into `audit_pending` in
//! its own transaction (no shared row is touched, so one bank's checks never queue behind each
//! other); the sealer ([`crate::sealer::seal`]) then moves waiting entries into `audit_events` in one unit of
//! work that holds the bank's chain head, giving each the next sequence number and a hash over
//! its predecessor's. `mamori serve` seals every few hundred milliseconds, and every read of a
//! trail seals first, so a reader never misses a committed entry.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use data_encoding::HEXLOWER;
use mamori_domain::{AuditOutcome, Operation};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sha2::{Digest, Sha256};

use crate::entities::{audit_events, audit_heads, audit_pending};
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

/// Appends `event` at `now` inside the caller's transaction (see [`append_all`]).
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    event: NewAuditEvent,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    append_all(conn, vec![event], now).await
}

/// Appends `events` at `now` inside the caller's transaction: they commit or vanish with the
/// change they record. They wait in `audit_pending` until [`crate::sealer::seal`] links them into their
/// chain, so no two transactions of a bank ever wait on each other for its chain head.
pub async fn append_all<C: ConnectionTrait>(
    conn: &C,
    events: Vec<NewAuditEvent>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let occurred_at = stored_time(now);
    // 12 values a row: 500 rows stay far below either engine's limit on bound parameters.
    for chunk in events.chunks(500) {
        audit_pending::Entity::insert_many(chunk.iter().cloned().map(|event| {
            audit_pending::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                tenant_id: Set(event.tenant_id),
                occurred_at: Set(occurred_at),
                actor: Set(event.actor),
                operation: Set(event.operation),
                outcome: Set(event.outcome),
                error_code: Set(event.error_code),
                user_id: Set(event.user_id),
                credential_id: Set(event.credential_id),
                request_id: Set(event.request_id),
                client_addr: Set(event.client_addr),
                details: Set(event.details.as_ref().map(serde_json::Value::to_string)),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// `now` to the microsecond: what both engines store, so a hash recomputes from stored values.
pub(crate) fn stored_time(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// SHA-256 over the previous hash and every field of the entry, each length-prefixed so no
/// two different entries serialise alike.
pub(crate) fn entry_hash(row: &audit_events::Model) -> String {
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
