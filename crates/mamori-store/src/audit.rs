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

use crate::entities::{audit_events, audit_pending};
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

/// Appends `events` at `now` inside the caller's transaction: they commit or vanish with the
/// change they record. They wait in `audit_pending`, each with its MAC under `key`, until
/// [`crate::sealer::seal`] links them into their chain, so no two transactions of a bank ever
/// wait on each other for its chain head.
pub(crate) async fn append_all<C: ConnectionTrait>(
    conn: &C,
    key: &AuditKey,
    events: Vec<NewAuditEvent>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let occurred_at = stored_time(now);
    // 13 values a row: 500 rows stay far below either engine's limit on bound parameters.
    for chunk in events.chunks(500) {
        audit_pending::Entity::insert_many(chunk.iter().map(|event| {
            let details = event.details.as_ref().map(serde_json::Value::to_string);
            let mac = key.pending_mac(&PendingFields::of_event(
                event,
                occurred_at,
                details.as_deref(),
            ));
            audit_pending::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                tenant_id: Set(event.tenant_id.clone()),
                occurred_at: Set(occurred_at),
                actor: Set(event.actor.clone()),
                operation: Set(event.operation),
                outcome: Set(event.outcome),
                error_code: Set(event.error_code.clone()),
                user_id: Set(event.user_id.clone()),
                credential_id: Set(event.credential_id.clone()),
                request_id: Set(event.request_id.clone()),
                client_addr: Set(event.client_addr.clone()),
                details: Set(details),
                mac: Set(Some(mac)),
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

/// The trail's key: an HMAC-SHA256 key derived from the master key (an HKDF subkey of the
/// sealed root, so a master-key rotation leaves it unchanged). Whoever can write the database
/// but does not hold the master key can neither make a waiting entry the sealer accepts nor
/// re-link an edited chain that verifies.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// What a waiting entry's MAC covers, ahead of its fields (a different purpose from a link).
const PENDING_MAC_DOMAIN: &str = "mamori/audit-pending/v1";
/// What a sealed entry's link MAC covers, ahead of the previous link and its fields.
const CHAIN_MAC_DOMAIN: &str = "mamori/audit-chain/v1";

impl AuditKey {
    /// The key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Whether `other` is the same key (compared in constant time).
    pub fn same_as(&self, other: &AuditKey) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }

    fn mac(&self, fields: &[Option<&str>]) -> String {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        encode_fields(fields, |bytes| mac.update(bytes));
        HEXLOWER.encode(&mac.finalize().into_bytes())
    }

    /// The MAC a waiting entry is written with, over every field of it.
    pub(crate) fn pending_mac(&self, row: &PendingFields<'_>) -> String {
        let occurred = stored_text(row.occurred_at);
        self.mac(&[
            Some(PENDING_MAC_DOMAIN),
            Some(row.tenant_id),
            Some(&occurred),
            Some(row.actor),
            Some(row.operation.as_str()),
            Some(row.outcome.as_str()),
            row.error_code,
            row.user_id,
            row.credential_id,
            row.request_id,
            row.client_addr,
            row.details,
        ])
    }

    /// Whether `mac` is the one [`Self::pending_mac`] makes for the waiting entry (compared
    /// in constant time).
    pub(crate) fn pending_mac_matches(&self, row: &audit_pending::Model) -> bool {
        let Some(mac) = row.mac.as_deref() else {
            return false;
        };
        let expected = self.pending_mac(&PendingFields::of_pending(row));
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), mac.as_bytes()).into()
    }

    /// A sealed entry's link: the keyed MAC over the previous link and every field of the
    /// entry, its sequence number included.
    pub(crate) fn entry_hash(&self, row: &audit_events::Model) -> String {
        let mut fields = vec![Some(CHAIN_MAC_DOMAIN)];
        let (occurred, seq) = (stored_text(row.occurred_at), row.seq.to_string());
        fields.extend(event_fields(row, &occurred, &seq));
        self.mac(&fields)
    }
}

/// The fields of an audit entry as written, borrowed from wherever they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingFields<'a> {
    pub(crate) tenant_id: &'a str,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) actor: &'a str,
    pub(crate) operation: Operation,
    pub(crate) outcome: AuditOutcome,
    pub(crate) error_code: Option<&'a str>,
    pub(crate) user_id: Option<&'a str>,
    pub(crate) credential_id: Option<&'a str>,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) client_addr: Option<&'a str>,
    pub(crate) details: Option<&'a str>,
}

impl<'a> PendingFields<'a> {
    /// The fields of `event` written at `occurred_at` (already [`stored_time`]), with its
    /// details serialised as they are stored.
    pub(crate) fn of_event(
        event: &'a NewAuditEvent,
        occurred_at: DateTime<Utc>,
        details: Option<&'a str>,
    ) -> Self {
        Self {
            tenant_id: &event.tenant_id,
            occurred_at,
            actor: &event.actor,
            operation: event.operation,
            outcome: event.outcome,
            error_code: event.error_code.as_deref(),
            user_id: event.user_id.as_deref(),
            credential_id: event.credential_id.as_deref(),
            request_id: event.request_id.as_deref(),
            client_addr: event.client_addr.as_deref(),
            details,
        }
    }

    fn of_pending(row: &'a audit_pending::Model) -> Self {
        Self {
            tenant_id: &row.tenant_id,
            occurred_at: row.occurred_at,
            actor: &row.actor,
            operation: row.operation,
            outcome: row.outcome,
            error_code: row.error_code.as_deref(),
            user_id: row.user_id.as_deref(),
            credential_id: row.credential_id.as_deref(),
            request_id: row.request_id.as_deref(),
            client_addr: row.client_addr.as_deref(),
            details: row.details.as_deref(),
        }
    }
}

/// How a stored time enters a MAC or hash.
fn stored_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The link fields of a sealed entry, in the order both the keyed and the legacy hash take them.
fn event_fields<'a>(
    row: &'a audit_events::Model,
    occurred: &'a str,
    seq: &'a str,
) -> [Option<&'a str>; 13] {
    [
        Some(&row.prev_hash),
        Some(&row.tenant_id),
        Some(seq),
        Some(occurred),
        Some(&row.actor),
        Some(row.operation.as_str()),
        Some(row.outcome.as_str()),
        row.error_code.as_deref(),
        row.user_id.as_deref(),
        row.credential_id.as_deref(),
        row.request_id.as_deref(),
        row.client_addr.as_deref(),
        row.details.as_deref(),
    ]
}

/// Each field length-prefixed (an absent one as `-`) and ended by a newline, so no two
/// different entries serialise alike.
pub(crate) fn encode_fields(fields: &[Option<&str>], mut update: impl FnMut(&[u8])) {
    for field in fields {
        match field {
            None => update(b"-"),
            Some(value) => {
                update(value.len().to_string().as_bytes());
                update(b":");
                update(value.as_bytes());
            }
        }
        update(b"\n");
    }
}

/// The unkeyed SHA-256 link of a chain written before the trail was keyed: still checked once,
/// when the sealer re-links such a chain with the key, and never accepted after.
pub(crate) fn legacy_entry_hash(row: &audit_events::Model) -> String {
    let (occurred, seq) = (stored_text(row.occurred_at), row.seq.to_string());
    let mut hasher = Sha256::new();
    encode_fields(&event_fields(row, &occurred, &seq), |bytes| {
        hasher.update(bytes)
    });
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
