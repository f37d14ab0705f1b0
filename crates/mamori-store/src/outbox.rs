//! The mail outbox: mails are inserted in the same transaction as what they announce, then
//! delivered by whichever node claims them. A claim is a conditional write, so two nodes never
//! send the same mail twice; a claim left by a node that died is taken over after a lease.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::outbox_mails;
use crate::error::StoreError;

pub use crate::entities::outbox_mails::Model as OutboxMailRow;

/// How long a claim holds before another node may retry the mail: longer than any SMTP
/// conversation, short enough that a crashed node delays a mail by minutes, not hours.
pub const CLAIM_LEASE_SECONDS: i64 = 300;

/// Inserts a mail to send.
pub async fn insert_mail<C: ConnectionTrait>(
    conn: &C,
    row: OutboxMailRow,
) -> Result<(), StoreError> {
    outbox_mails::Entity::insert(outbox_mails::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        recipient: Set(row.recipient),
        subject: Set(row.subject),
        body: Set(row.body),
        created_at: Set(row.created_at),
        claimed_at: Set(row.claimed_at),
        sent_at: Set(row.sent_at),
        attempts: Set(row.attempts),
        last_error: Set(row.last_error),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A mail by its ID.
pub async fn find_mail<C: ConnectionTrait>(
    conn: &C,
    mail_id: &str,
) -> Result<Option<OutboxMailRow>, StoreError> {
    Ok(outbox_mails::Entity::find_by_id(mail_id.to_owned())
        .one(conn)
        .await?)
}

/// The newest `limit` mails, of one bank or (`None`, the operator's command) of all.
pub async fn list_mails<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Option<&str>,
    limit: u64,
) -> Result<Vec<OutboxMailRow>, StoreError> {
    let mut query = outbox_mails::Entity::find();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(outbox_mails::Column::TenantId.eq(tenant_id));
    }
    Ok(query
        .order_by_desc(outbox_mails::Column::CreatedAt)
        .order_by_desc(outbox_mails::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Delivery attempts after which a mail is left in the outbox for good (a dead address or a
/// refusing relay); it stays readable with `mamori outbox`, with its last error.
pub const MAX_DELIVERY_ATTEMPTS: i32 = 10;

/// Unsent mails nobody holds a live claim on and not given up on, least tried first, then
/// oldest: what a sweep retries. Mails that keep failing never starve newer ones.
pub async fn deliverable_mail_ids<C: ConnectionTrait>(
    conn: &C,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    Ok(outbox_mails::Entity::find()
        .filter(outbox_mails::Column::SentAt.is_null())
        .filter(outbox_mails::Column::Attempts.lt(MAX_DELIVERY_ATTEMPTS))
        .filter(unclaimed(now))
        .order_by_asc(outbox_mails::Column::Attempts)
        .order_by_asc(outbox_mails::Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect())
}

fn unclaimed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(outbox_mails::Column::ClaimedAt.is_null())
        .add(outbox_mails::Column::ClaimedAt.lt(now - Duration::seconds(CLAIM_LEASE_SECONDS)))
}

/// Claims an unsent mail for delivery by this node and counts the attempt. Returns whether
/// this call claimed it (another node holding a live claim, or a sent mail, is left alone).
pub async fn claim_mail<C: ConnectionTrait>(
    conn: &C,
    mail_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let result = outbox_mails::Entity::update_many()
        .col_expr(outbox_mails::Column::ClaimedAt, Expr::value(now))
        .col_expr(
            outbox_mails::Column::Attempts,
            Expr::col(outbox_mails::Column::Attempts).add(1),
        )
        .filter(outbox_mails::Column::Id.eq(mail_id))
        .filter(outbox_mails::Column::SentAt.is_null())
        .filter(unclaimed(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The claimed mail was accepted by the SMTP server.
pub async fn mark_sent<C: ConnectionTrait>(
    conn: &C,
    mail_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    outbox_mails::Entity::update_many()
        .col_expr(outbox_mails::Column::SentAt, Expr::value(now))
        .col_expr(
            outbox_mails::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox_mails::Column::Id.eq(mail_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The claimed mail could not be delivered: the claim is released for the next sweep and the
/// reason kept for the operator.
pub async fn record_failure<C: ConnectionTrait>(
    conn: &C,
    mail_id: &str,
    error: &str,
) -> Result<(), StoreError> {
    outbox_mails::Entity::update_many()
        .col_expr(
            outbox_mails::Column::ClaimedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox_mails::Column::LastError,
            Expr::value(error.to_owned()),
        )
        .filter(outbox_mails::Column::Id.eq(mail_id))
        .filter(outbox_mails::Column::SentAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
