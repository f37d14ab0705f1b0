//! Hourly figures per bank, rolled up from the audit trail after the fact: a chart reads a few
//! hundred rows instead of scanning the trail, and no code check waits on a counter row.
//!
//! Exactness: a bank's trail is appended in sequence order under its chain head (seq order is
//! commit order), so "everything after the last counted seq" never skips an entry; the cursor
//! moves with one conditional write before the counts are added, in the same unit of work, so
//! two nodes rolling up at once never count an entry twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::audit::AuditEvent;
use crate::db::WriteTx;
use crate::entities::{audit_events, stats_cursors, stats_hourly};
use crate::error::StoreError;

/// The last sequence number of `tenant_id`'s trail already counted (0: none).
pub async fn cursor<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<i64, StoreError> {
    Ok(stats_cursors::Entity::find_by_id(tenant_id.to_owned())
        .one(conn)
        .await?
        .map_or(0, |row| row.last_seq))
}

/// Up to `limit` of a bank's entries after `after_seq`, oldest first.
pub async fn entries_after<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    after_seq: i64,
    limit: u64,
) -> Result<Vec<AuditEvent>, StoreError> {
    Ok(audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(tenant_id))
        .filter(audit_events::Column::Seq.gt(after_seq))
        .order_by_asc(audit_events::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}

/// Moves the cursor from `from` to `to` inside `tx`; `false` if another node moved it first
/// (then the caller rolls back and adds nothing).
pub async fn advance_cursor(
    tx: &WriteTx,
    tenant_id: &str,
    from: i64,
    to: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    stats_cursors::Entity::insert(stats_cursors::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        last_seq: Set(0),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([stats_cursors::Column::TenantId])
    .exec(tx)
    .await?;
    let moved = stats_cursors::Entity::update_many()
        .col_expr(stats_cursors::Column::LastSeq, Expr::value(to))
        .col_expr(stats_cursors::Column::UpdatedAt, Expr::value(now))
        .filter(stats_cursors::Column::TenantId.eq(tenant_id))
        .filter(stats_cursors::Column::LastSeq.eq(from))
        .exec(tx)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// Adds counts (per hour and metric name) to a bank's figures inside `tx`.
pub async fn add_counts(
    tx: &WriteTx,
    tenant_id: &str,
    counts: &BTreeMap<(DateTime<Utc>, &'static str), i64>,
) -> Result<(), StoreError> {
    for (&(hour, metric), &count) in counts {
        stats_hourly::Entity::insert(stats_hourly::ActiveModel {
            tenant_id: Set(tenant_id.to_owned()),
            hour: Set(hour),
            metric: Set(metric.to_owned()),
            count: Set(count),
        })
        .on_conflict(
            OnConflict::columns([
                stats_hourly::Column::TenantId,
                stats_hourly::Column::Hour,
                stats_hourly::Column::Metric,
            ])
            .value(
                stats_hourly::Column::Count,
                Expr::col((stats_hourly::Entity, stats_hourly::Column::Count))
                    .add(Expr::cust("excluded.count")),
            )
            .to_owned(),
        )
        .exec_without_returning(tx)
        .await?;
    }
    Ok(())
}

/// A bank's hourly figures from `since`, as (hour, metric name, count).
pub async fn hourly<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
    Ok(stats_hourly::Entity::find()
        .filter(stats_hourly::Column::TenantId.eq(tenant_id))
        .filter(stats_hourly::Column::Hour.gte(since))
        .order_by_asc(stats_hourly::Column::Hour)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| (row.hour, row.metric, row.count))
        .collect())
}
