//! Fixed-window rate limits shared by every node: a counter row per key and window, taken
//! and given back with conditional writes, so concurrent requests on any node never overrun
//! the limit between them.

use chrono::{DateTime, Utc};
use mamori_domain::RateLimit;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::counters;
use crate::error::StoreError;

/// Takes one slot of `key`'s current window: one conditional increment, or the start of a new
/// window. Returns whether the request may go on.
pub async fn take_slot<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let window_start = limit.window_start(now);
    let bump = || async {
        let bumped = counters::Entity::update_many()
            .col_expr(
                counters::Column::Count,
                Expr::col(counters::Column::Count).add(1),
            )
            .filter(counters::Column::Key.eq(key))
            .filter(counters::Column::WindowStart.eq(window_start))
            .filter(counters::Column::Count.lt(limit.max))
            .exec(conn)
            .await?;
        Ok::<_, StoreError>(bumped.rows_affected == 1)
    };
    if bump().await? {
        return Ok(true);
    }
    // No row for this window yet (or the window is full): start the window if it is new.
    let started = counters::Entity::insert(counters::ActiveModel {
        key: Set(key.to_owned()),
        window_start: Set(window_start),
        count: Set(1),
    })
    .on_conflict(
        OnConflict::column(counters::Column::Key)
            .update_columns([counters::Column::WindowStart, counters::Column::Count])
            .action_and_where(counters::Column::WindowStart.lt(window_start))
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if started == 1 {
        return Ok(limit.max >= 1);
    }
    // A concurrent request started this window between our two statements: its row is there
    // now, so the conditional increment decides.
    bump().await
}

/// Gives back a slot taken in the same window (an attempt that turned out not to be what the
/// limit counts).
pub async fn give_back_slot<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    counters::Entity::update_many()
        .col_expr(
            counters::Column::Count,
            Expr::col(counters::Column::Count).sub(1),
        )
        .filter(counters::Column::Key.eq(key))
        .filter(counters::Column::WindowStart.eq(limit.window_start(now)))
        .filter(counters::Column::Count.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}
