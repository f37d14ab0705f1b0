//! Idempotency keys' records: claimed by an insert that only one request can win, answered
//! and released only by the claim that holds them, taken over only from the claim that was
//! read — so two nodes never both run one key's request.

use chrono::{DateTime, Utc};
use mamori_domain::idempotency::{CLAIM_LEASE, KEEP_FOR, KeyRecord};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::idempotency_keys::{self, Column, Entity};
use crate::error::StoreError;

/// A bank's key and the claim a request holds on it.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The bank.
    pub tenant_id: &'a str,
    /// The key as sent.
    pub key: &'a str,
    /// This request's claim.
    pub claim_id: &'a str,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The headers to give again, as a JSON object of name to value.
    pub headers: String,
    /// The body's bytes.
    pub body: Vec<u8>,
}

/// A key's record: the rules' view and, once answered, the answer, with the claim that holds it.
#[derive(Debug, Clone)]
pub struct FoundKey {
    /// What the rules decide on.
    pub record: KeyRecord,
    /// The claim that holds the key now.
    pub claim_id: String,
    /// The answer, once stored.
    pub answer: Option<StoredAnswer>,
}

fn scoped(claim: Claim<'_>) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::TenantId.eq(claim.tenant_id))
        .add(Column::IdemKey.eq(claim.key))
}

/// Claims a key nobody holds for the request with `fingerprint`; false if it has a record.
pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    claim: Claim<'_>,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = Entity::insert(idempotency_keys::ActiveModel {
        tenant_id: Set(claim.tenant_id.to_owned()),
        idem_key: Set(claim.key.to_owned()),
        fingerprint: Set(fingerprint.to_owned()),
        claim_id: Set(claim.claim_id.to_owned()),
        lease_until: Set(now + CLAIM_LEASE),
        expires_at: Set(now + KEEP_FOR),
        status: Set(None),
        headers: Set(None),
        body: Set(None),
    })
    .on_conflict(
        OnConflict::columns([Column::TenantId, Column::IdemKey])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(inserted == 1)
}

/// A key's record, if it has one.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    key: &str,
) -> Result<Option<FoundKey>, StoreError> {
    let row = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::IdemKey.eq(key))
        .one(conn)
        .await?;
    Ok(row.map(|row| FoundKey {
        record: KeyRecord {
            fingerprint: row.fingerprint,
            answered: row.status.is_some(),
            lease_until: row.lease_until,
            expires_at: row.expires_at,
        },
        claim_id: row.claim_id,
        answer: match (row.status, row.headers, row.body) {
            (Some(status), headers, body) => Some(StoredAnswer {
                status: u16::try_from(status).unwrap_or(500),
                headers: headers.unwrap_or_else(|| "{}".to_owned()),
                body: body.unwrap_or_default(),
            }),
            _ => None,
        },
    }))
}

/// Takes over a key from `stale_claim_id` (expired, or its claimer died) for a new request;
/// false if another request took it over first.
pub async fn take_over<C: ConnectionTrait>(
    conn: &C,
    claim: Claim<'_>,
    stale_claim_id: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let taken = Entity::update_many()
        .col_expr(Column::Fingerprint, Expr::value(fingerprint))
        .col_expr(Column::ClaimId, Expr::value(claim.claim_id))
        .col_expr(Column::LeaseUntil, Expr::value(now + CLAIM_LEASE))
        .col_expr(Column::ExpiresAt, Expr::value(now + KEEP_FOR))
        .col_expr(Column::Status, Expr::value(Option::<i32>::None))
        .col_expr(Column::Headers, Expr::value(Option::<String>::None))
        .col_expr(Column::Body, Expr::value(Option::<Vec<u8>>::None))
        .filter(scoped(claim))
        .filter(Column::ClaimId.eq(stale_claim_id))
        .exec(conn)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Stores the answer of the request holding `claim`; false if it lost the claim meanwhile.
pub async fn answer<C: ConnectionTrait>(
    conn: &C,
    claim: Claim<'_>,
    answer: StoredAnswer,
) -> Result<bool, StoreError> {
    let stored = Entity::update_many()
        .col_expr(Column::Status, Expr::value(i32::from(answer.status)))
        .col_expr(Column::Headers, Expr::value(answer.headers))
        .col_expr(Column::Body, Expr::value(answer.body))
        .filter(scoped(claim))
        .filter(Column::ClaimId.eq(claim.claim_id))
        .filter(Column::Status.is_null())
        .exec(conn)
        .await?;
    Ok(stored.rows_affected == 1)
}

/// Frees a key whose request ended with nothing to keep (the database was away, a rate
/// limit), so the bank's retry runs the request.
pub async fn release<C: ConnectionTrait>(conn: &C, claim: Claim<'_>) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(scoped(claim))
        .filter(Column::ClaimId.eq(claim.claim_id))
        .filter(Column::Status.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the records of every bank's expired keys; returns how many.
pub async fn forget_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let deleted = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}
