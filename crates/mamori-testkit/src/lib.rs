//! Dev-only helpers for Mamori's tests: a fresh database per test on SQLite or PostgreSQL, a
//! `TestApp` wired like the real server but with a [`FixedClock`], a TCP proxy that can cut
//! the database off to test outages, an SMTP sink that keeps the mails Mamori sends, and the
//! real `mamori` binary in a child process with an HTTP client for it.
//!
//! Nothing here is used by the product.

mod admin;
mod app;
mod contract;
mod db;
mod device;
mod process;
mod proxy;
mod smtp;
mod token;

pub use admin::{Admin, OPERATOR_PASSWORD};
pub use app::{
    Answer, Bank, Node, PEER_HEADER, TestApp, repo_root, shipped_tenant_configs, test_epoch,
};
pub use db::{TestDb, TestEngine};
pub use device::{Answer as DeviceAnswer, TestDevice};
pub use process::{HttpResponse, Mamori, ServeBuilder, Server, free_port, http_get, http_request};
pub use proxy::TcpProxy;
pub use smtp::{ReceivedMail, SmtpSink};
pub use token::TestToken;

/// Runs an async test scenario once on SQLite and once on PostgreSQL, as two `#[test]`s named
/// `sqlite` and `postgres` inside a module named after the scenario. The scenario's future is
/// boxed: a whole request chain awaited in-process makes a large future, which on the test
/// thread's 2 MiB stack (debug build, next to poem-openapi's deep frames) can overflow it.
#[macro_export]
macro_rules! on_both_engines {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                Box::pin(super::$scenario($crate::TestEngine::Sqlite)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                Box::pin(super::$scenario($crate::TestEngine::Postgres)).await;
            }
        }
    };
}
