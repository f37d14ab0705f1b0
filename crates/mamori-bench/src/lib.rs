#![doc = include_str!("../README.md")]

pub mod limit;
pub mod load;
pub mod pool;
pub mod report;
pub mod secrets;
pub mod seed;

pub use limit::{CommitRate, sqlite_commit_rate};
pub use load::{LoadOptions, Mix, parse_duration, require_loopback};
pub use report::Report;
pub use seed::{SeedPlan, SeedReport, seed};
