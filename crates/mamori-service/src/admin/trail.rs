//! The trails and figures in the console: a bank's audit trail (or the platform's) filtered and
//! paged, its hash chain checked, and the hourly and daily figures the charts draw, rolled up
//! from the trail after the fact (see `mamori_store::stats`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, FixedOffset, TimeDelta, Utc};
use mamori_domain::TenantId;
use mamori_domain::stats::{Metric, metrics_of};
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::console::{self, AuditQuery, BankNow};
use mamori_store::{chain, stats};

use crate::admin::OperatorCaller;
use crate::audit_trail::{AuditRecord, ChainStatus, MAX_AUDIT_PAGE};
use crate::core::Core;
use crate::error::ServiceError;

/// How many entries one roll-up takes on (the rest wait for the next).
const ROLLUP_BATCH: u64 = 5_000;

/// The trail the operator asks for: a bank's, or the platform's (`platform`, for operators who
/// see every bank).
fn trail_of(caller: &OperatorCaller, trail: &str) -> Result<String, ServiceError> {
    if trail == PLATFORM_TENANT {
        caller.require_platform_view()?;
        return Ok(PLATFORM_TENANT.to_owned());
    }
    Ok(caller.bank(trail)?.to_string())
}

/// Which of a trail's entries to list: every given field must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries about this user.
    pub user_id: Option<String>,
    /// Entries about this credential.
    pub credential_id: Option<String>,
    /// Entries of this operation.
    pub operation: Option<mamori_domain::Operation>,
    /// Entries with this outcome.
    pub outcome: Option<mamori_domain::AuditOutcome>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

impl From<&AuditFilter> for AuditQuery {
    fn from(f: &AuditFilter) -> Self {
        Self {
            user_id: f.user_id.clone(),
            credential_id: f.credential_id.clone(),
            operation: f.operation,
            outcome: f.outcome,
            from: f.from,
            to: f.to,
        }
    }
}

/// One bucket of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Its start (an hour, or a day at 00:00 JST).
    pub start: DateTime<Utc>,
    /// The count of each figure in it.
    pub counts: BTreeMap<Metric, i64>,
}

/// A bank's figures: the last 24 hours by hour, the last 30 days by day (JST), and now.
#[derive(Debug, Clone)]
pub struct Figures {
    /// 24 hourly buckets, oldest first.
    pub hourly: Vec<Bucket>,
    /// 30 daily buckets (days in Japan), oldest first.
    pub daily: Vec<Bucket>,
    /// What is locked or pending right now.
    pub now: BankNow,
}

/// The trails and figures.
#[derive(Debug, Clone)]
pub struct Trails {
    core: Core,
}

impl Trails {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// A page of a trail matching `query`, newest first, before the cursor (a sequence number).
    pub async fn audit_page(
        &self,
        caller: &OperatorCaller,
        trail: &str,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        let tenant = trail_of(caller, trail)?;
        self.core.seal_audit(&tenant).await?;
        Ok(console::audit_page(
            self.core.db(),
            &tenant,
            &AuditQuery::from(filter),
            before,
            limit.clamp(1, MAX_AUDIT_PAGE),
        )
        .await?
        .into_iter()
        .map(AuditRecord::from)
        .collect())
    }

    /// Recomputes a trail's hash chain.
    pub async fn verify_chain(
        &self,
        caller: &OperatorCaller,
        trail: &str,
    ) -> Result<ChainStatus, ServiceError> {
        let tenant = trail_of(caller, trail)?;
        self.core.seal_audit(&tenant).await?;
        Ok(chain::verify_audit_chain(self.core.db(), &tenant)
            .await?
            .into())
    }

    /// A bank's figures, after counting what the trail gained since the last roll-up.
    pub async fn figures(
        &self,
        caller: &OperatorCaller,
        bank_id: &str,
    ) -> Result<Figures, ServiceError> {
        let bank = caller.bank(bank_id)?;
        self.roll_up(&bank).await?;
        let now = self.core.now();
        let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let jst = FixedOffset::east_opt(9 * 3600).ok_or_else(|| ServiceError::internal("JST"))?;
        let today = now
            .with_timezone(&jst)
            .duration_trunc(TimeDelta::days(1))
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(now);
        let first_day = today - Duration::days(29);
        let rows = stats::hourly(
            self.core.db(),
            bank.as_str(),
            first_day.min(this_hour - Duration::hours(23)),
        )
        .await?;
        let mut hourly: Vec<Bucket> = (0..24)
            .map(|i| Bucket {
                start: this_hour - Duration::hours(23 - i),
                counts: BTreeMap::new(),
            })
            .collect();
        let mut daily: Vec<Bucket> = (0..30)
            .map(|i| Bucket {
                start: first_day + Duration::days(i),
                counts: BTreeMap::new(),
            })
            .collect();
        for (hour, metric, count) in rows {
            let Some(metric) = Metric::parse(&metric) else {
                continue;
            };
            if let Some(bucket) = hourly.iter_mut().find(|b| b.start == hour) {
                *bucket.counts.entry(metric).or_default() += count;
            }
            if let Some(bucket) = daily
                .iter_mut()
                .rev()
                .find(|b| b.start <= hour && hour < b.start + Duration::days(1))
            {
                *bucket.counts.entry(metric).or_default() += count;
            }
        }
        Ok(Figures {
            hourly,
            daily,
            now: console::bank_now(self.core.db(), bank.as_str(), now).await?,
        })
    }

    /// Counts a bank's new trail entries into its hourly figures. Returns how many entries
    /// were counted; 0 when another node counted them first.
    pub async fn roll_up(&self, bank: &TenantId) -> Result<u64, ServiceError> {
        self.core.seal_audit(bank.as_str()).await?;
        let db = self.core.db();
        let from = stats::cursor(db, bank.as_str()).await?;
        let entries = stats::entries_after(db, bank.as_str(), from, ROLLUP_BATCH).await?;
        let Some(last) = entries.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let mut counts: BTreeMap<(DateTime<Utc>, &'static str), i64> = BTreeMap::new();
        for entry in &entries {
            let details = entry
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok());
            let hour = entry
                .occurred_at
                .duration_trunc(TimeDelta::hours(1))
                .unwrap_or(entry.occurred_at);
            for metric in metrics_of(entry.operation, entry.outcome, details.as_ref()) {
                *counts.entry((hour, metric.as_str())).or_default() += 1;
            }
        }
        let tx = self.core.write().await?;
        // The cursor moves first: a node that lost the race adds nothing.
        if !stats::advance_cursor(&tx, bank.as_str(), from, last, self.core.now()).await? {
            return Ok(0);
        }
        stats::add_counts(&tx, bank.as_str(), &counts).await?;
        tx.commit().await?;
        Ok(u64::try_from(entries.len()).unwrap_or(0))
    }

    /// Every bank's roll-up (the background sweep of `mamori serve`).
    pub async fn roll_up_all(&self) -> Result<u64, ServiceError> {
        let mut counted = 0;
        for bank in mamori_store::tenants::tenant_ids(self.core.db()).await? {
            counted += self.roll_up(&bank).await?;
        }
        Ok(counted)
    }
}
