//! The admin console as operators and developers get it: served by `mamori serve` from the
//! bundle embedded in the binary, that bundle as fresh as its sources, and the console working
//! in a real browser on SQLite and on PostgreSQL.
//!
//! Needs Node.js with npm (to build and run the browser suite) and Debian's `chromium` and
//! `fonts-noto-cjk`; `.ci/run` installs them. A missing tool fails the test and says what to
//! install; it never skips.

#![expect(
    clippy::unwrap_used,
    reason = "helpers of tests: an unexpected error should fail the test loudly"
)]

use mamori_testkit::Mamori;

mod browser;
mod bundle;
mod node;
mod serving;

/// The `mamori` binary under test.
const MAMORI: Mamori = Mamori::new(env!("CARGO_BIN_EXE_mamori"));
