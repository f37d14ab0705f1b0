//! Checking a chain: every keyed link recomputed, and the heads and links a checkpoint kept
//! outside the database is compared with (see [`crate::audit`] for how entries are written and
//! [`crate::sealer`] for how they are linked).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::audit::{ChainCheck, GENESIS_HASH};
use crate::db::Database;
use crate::entities::{audit_events, audit_heads};
use crate::error::StoreError;

/// Recomputes a tenant's whole chain with the trail's key: every entry's keyed link, every
/// link to its predecessor, no gaps, and the head matching the last entry (so deleting the
/// newest entries and moving the head back needs the key too). A chain not yet re-linked with
/// the key (written before the trail was keyed) is reported broken: an unkeyed chain is one a
/// database writer could have rewritten, until an operator has checked and re-linked it
/// (`mamori audit rekey`).
///
/// What it cannot see alone: a database writer who cuts the chain back to an earlier entry and
/// sets the head there. Compare with a checkpoint kept outside the database for that (see
/// [`chain_link`]).
pub async fn verify_audit_chain(db: &Database, tenant_id: &str) -> Result<ChainCheck, StoreError> {
    let key = db.audit_key()?;
    let head = audit_heads::Entity::find_by_id(tenant_id.to_owned())
        .one(db)
        .await?;
    if head.as_ref().is_some_and(|head| !head.keyed) {
        return Ok(ChainCheck::Broken {
            at_seq: 1,
            reason: "the chain is not keyed (written before the trail was keyed, or its head \
                     was reset in the database): run `mamori audit rekey`"
                .into(),
        });
    }
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
    let mut entries = 0;
    loop {
        let page = page_from(db, tenant_id, expected_seq).await?;
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
            let link = key.entry_hash(&row);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                link.as_bytes(),
                row.hash.as_bytes(),
            )) {
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

/// A chain's head: its last sequence number and link (`None` before its first entry).
pub async fn chain_head(
    db: &Database,
    tenant_id: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    Ok(audit_heads::Entity::find_by_id(tenant_id.to_owned())
        .one(db)
        .await?
        .filter(|head| head.seq > 0)
        .map(|head| (head.seq, head.hash)))
}

/// Every chain that has a head, by tenant.
pub async fn chains(db: &Database) -> Result<Vec<String>, StoreError> {
    Ok(audit_heads::Entity::find()
        .select_only()
        .column(audit_heads::Column::TenantId)
        .filter(audit_heads::Column::Seq.gt(0))
        .order_by_asc(audit_heads::Column::TenantId)
        .into_tuple()
        .all(db)
        .await?)
}

/// The stored link of the entry at `seq` of a chain (`None` when there is no such entry), to
/// compare with a checkpoint.
pub async fn chain_link(
    db: &Database,
    tenant_id: &str,
    seq: i64,
) -> Result<Option<String>, StoreError> {
    Ok(audit_events::Entity::find()
        .select_only()
        .column(audit_events::Column::Hash)
        .filter(audit_events::Column::TenantId.eq(tenant_id))
        .filter(audit_events::Column::Seq.eq(seq))
        .into_tuple()
        .one(db)
        .await?)
}

/// The next page of a chain's entries, in order, from sequence number `from_seq` on.
pub(crate) async fn page_from<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    from_seq: i64,
) -> Result<Vec<audit_events::Model>, StoreError> {
    Ok(audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(tenant_id))
        .filter(audit_events::Column::Seq.gte(from_seq))
        .order_by_asc(audit_events::Column::Seq)
        .limit(1000)
        .all(conn)
        .await?)
}
