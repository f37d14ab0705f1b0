//! `mamori bench limit-sqlite`: the reference a SQLite figure is a ratio of — how many
//! single-row update transactions per second SQLite commits, one after another, on a given
//! disk, opened exactly as Mamori opens its database (WAL, `synchronous=FULL`, `BEGIN
//! IMMEDIATE`). Every `verifyOtp` commits at least once, so no server on that disk can do more.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use mamori_store::Database;
use sea_orm::ConnectionTrait;
use serde::Serialize;

/// Rows of the counter table (a write picks one).
const ROWS: i64 = 16;

/// What the probe measured.
#[derive(Debug, Clone, Serialize)]
pub struct CommitRate {
    /// The directory the database file was in.
    pub dir: String,
    /// Commits made.
    pub commits: u64,
    /// How long.
    pub elapsed_s: f64,
    /// Commits per second.
    pub commits_per_second: f64,
}

impl CommitRate {
    /// As text.
    pub fn render(&self) -> String {
        format!(
            "sqlite single-commit rate in {}: {:.1} commits/s ({} commits in {:.2} s; WAL, \
             synchronous=FULL, one UPDATE per BEGIN IMMEDIATE … COMMIT)",
            self.dir, self.commits_per_second, self.commits, self.elapsed_s
        )
    }
}

/// Measures for `duration` in a scratch database file in `dir` (removed afterwards).
pub async fn sqlite_commit_rate(dir: &Path, duration: Duration) -> anyhow::Result<CommitRate> {
    let scratch = tempfile_in(dir)?;
    let file = scratch.path().join("commit-rate.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let db = Database::connect(&url)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    db.execute_unprepared(
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)",
    )
    .await?;
    for id in 1..=ROWS {
        db.execute_unprepared(&format!("INSERT INTO counter (id) VALUES ({id})"))
            .await?;
    }
    let started = Instant::now();
    let mut commits = 0_u64;
    while started.elapsed() < duration {
        let id = i64::try_from(commits).unwrap_or(0) % ROWS + 1;
        let tx = db.write().await?;
        tx.execute_unprepared(&format!("UPDATE counter SET n = n + 1 WHERE id = {id}"))
            .await?;
        tx.commit().await?;
        commits += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(db);
    Ok(CommitRate {
        dir: dir.display().to_string(),
        commits,
        elapsed_s: elapsed,
        commits_per_second: commits as f64 / elapsed,
    })
}

/// A scratch directory inside `dir`, removed when dropped.
fn tempfile_in(dir: &Path) -> anyhow::Result<ScratchDir> {
    let path = dir.join(format!(
        ".mamori-commit-rate-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(ScratchDir(path))
}

#[derive(Debug)]
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
