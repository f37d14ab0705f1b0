//! The real `mamori` binary in a child process, for the tests that run it as an operator or a
//! customer would: a command builder with none of the developer's own `MAMORI_*` settings, a
//! running `mamori serve` with its logs and its standard output captured, and a small blocking
//! HTTP client for it.
//!
//! Cargo tells only the binary's own package where the binary is (`CARGO_BIN_EXE_mamori`), so
//! the caller names it:
//!
//! ```no_run
//! use mamori_testkit::{Mamori, http_get};
//!
//! // In mamori-server's tests: `Mamori::new(env!("CARGO_BIN_EXE_mamori"))`.
//! const MAMORI: Mamori = Mamori::new("target/debug/mamori");
//!
//! let server = MAMORI.serve().database_url("sqlite://mamori.db?mode=rwc").start();
//! assert_eq!(http_get(server.port(), "/readyz").status, 200);
//! let logs = server.stop();
//! assert!(logs.contains("Mamori stopped"));
//! ```

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::app::shipped_tenant_configs;

/// How long `mamori serve` may take to answer `/readyz` (migrations on a busy machine included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long `mamori serve` may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the client waits for a response.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Variables that change what the binary does but do not start with `MAMORI_`.
const FOREIGN_SETTINGS: &[&str] = &["RUST_LOG", "RUST_BACKTRACE"];

/// The `mamori` binary under test.
#[derive(Debug, Clone, Copy)]
pub struct Mamori {
    bin: &'static str,
}

impl Mamori {
    /// The binary at `bin`: `Mamori::new(env!("CARGO_BIN_EXE_mamori"))`.
    pub const fn new(bin: &'static str) -> Self {
        Self { bin }
    }

    /// A command running the binary with every `MAMORI_*` variable of the test's environment
    /// removed (and `RUST_LOG`, `RUST_BACKTRACE`), logging at `MAMORI_LOG=info`. The caller adds
    /// the arguments and any settings.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.bin);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MAMORI_") {
                cmd.env_remove(name);
            }
        }
        for name in FOREIGN_SETTINGS {
            cmd.env_remove(name);
        }
        cmd.env("MAMORI_LOG", "info");
        cmd
    }

    /// A `mamori serve` to configure and [`ServeBuilder::start`].
    pub fn serve(&self) -> ServeBuilder {
        ServeBuilder {
            command: self.command(),
            extra_args: Vec::new(),
            work_dir: None,
            database_url: None,
            settings_in_env: false,
        }
    }
}

/// A port nobody listens on right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// How a `mamori serve` is started: on a free port of 127.0.0.1, with the shipped tenant
/// configs, in its own temporary working directory (where it keeps its master key file) unless
/// told otherwise.
#[derive(Debug)]
pub struct ServeBuilder {
    command: Command,
    extra_args: Vec<OsString>,
    work_dir: Option<PathBuf>,
    database_url: Option<String>,
    settings_in_env: bool,
}

impl ServeBuilder {
    /// The database to serve; without one, `mamori serve` uses its default (SQLite in its
    /// working directory).
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    /// Runs in `dir`, which the caller keeps, instead of a temporary directory of its own.
    pub fn work_dir(mut self, dir: &Path) -> Self {
        self.work_dir = Some(dir.to_path_buf());
        self
    }

    /// Passes the listen address, the database URL and the tenant configs as `MAMORI_LISTEN`,
    /// `MAMORI_DATABASE_URL` and `MAMORI_TENANT_CONFIGS` instead of as flags.
    pub fn settings_in_env(mut self) -> Self {
        self.settings_in_env = true;
        self
    }

    /// One more argument after `serve` and its own flags.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.extra_args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments after `serve` and its own flags.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.extra_args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// An environment variable for the server (`MAMORI_LOG` replaces the default `info`).
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    /// Starts the server and waits until `/readyz` answers 200; panics with its logs if it
    /// exits or is not ready within a minute.
    pub fn start(self) -> Server {
        let Self {
            command: mut cmd,
            extra_args,
            work_dir,
            database_url,
            settings_in_env,
        } = self;
        let (work_dir, own_work_dir) = match work_dir {
            Some(dir) => (dir, None),
            None => {
                let dir = tempfile::tempdir().expect("a working directory for mamori serve");
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let configs = shipped_tenant_configs();

        cmd.current_dir(&work_dir).arg("serve");
        if settings_in_env {
            cmd.env("MAMORI_LISTEN", &listen)
                .env("MAMORI_TENANT_CONFIGS", &configs);
            if let Some(url) = &database_url {
                cmd.env("MAMORI_DATABASE_URL", url);
            }
        } else {
            cmd.args(["--listen", &listen]);
            if let Some(url) = &database_url {
                cmd.args(["--database-url", url]);
            }
            cmd.arg("--tenant-configs").arg(&configs);
        }
        cmd.args(extra_args);

        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mamori serve");
        // Drain both pipes as they fill, so a chatty server (TRACE) never blocks on a full pipe.
        let stderr = child.stderr.take().expect("the piped standard error");
        let stdout = child.stdout.take().expect("the piped standard output");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let output = Arc::new(Mutex::new(Vec::new()));
        let drains = vec![
            drain(stderr, Arc::clone(&logs)),
            drain(stdout, Arc::clone(&output)),
        ];
        let mut server = Server {
            child,
            port,
            logs,
            output,
            drains,
            work_dir,
            _own_work_dir: own_work_dir,
        };
        server.wait_ready();
        server
    }
}

/// Copies what `source` yields into `sink` until it closes, on a thread of its own.
fn drain(mut source: impl Read + Send + 'static, sink: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0_u8; 8192];
        while let Ok(read @ 1..) = source.read(&mut chunk) {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(&chunk[..read]);
        }
    })
}

/// A running `mamori serve` on 127.0.0.1 whose standard error (its logs) and standard output
/// (what it says to the operator, e.g. the first admin's one-time password) are captured.
/// Killed when dropped; [`Server::stop`] stops it the way an operator does.
pub struct Server {
    child: Child,
    port: u16,
    logs: Arc<Mutex<Vec<u8>>>,
    output: Arc<Mutex<Vec<u8>>>,
    drains: Vec<JoinHandle<()>>,
    work_dir: PathBuf,
    _own_work_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("pid", &self.child.id())
            .field("port", &self.port)
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

impl Server {
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                self.join_drain();
                panic!("mamori serve exited with {status}:\n{}", self.logs());
            }
            if try_request(self.port, "GET", "/readyz", &[], None)
                .is_ok_and(|resp| resp.status == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "mamori serve did not become ready on port {} within {READY_TIMEOUT:?}:\n{}",
            self.port,
            self.logs()
        );
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its working directory.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        let logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&logs).into_owned()
    }

    /// What it printed to standard output so far (the first start's admin one-time password,
    /// for one).
    pub fn stdout(&self) -> String {
        let output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&output).into_owned()
    }

    /// Sends SIGTERM, waits for the exit and returns everything it logged; panics with the logs
    /// unless it exits successfully within 30 seconds.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}: {status}", self.child.id());
        let exit = self.wait_exit();
        self.join_drain();
        let logs = self.logs();
        match exit {
            Some(exit) => assert!(exit.success(), "exit after SIGTERM: {exit}\n{logs}"),
            None => panic!("mamori serve still runs {STOP_TIMEOUT:?} after SIGTERM:\n{logs}"),
        }
        logs
    }

    /// `kill -9`: the process gets no chance to finish anything. Returns what it logged.
    pub fn kill(mut self) -> String {
        self.child.kill().expect("SIGKILL the server");
        let _ = self.child.wait();
        self.join_drain();
        self.logs()
    }

    fn wait_exit(&mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// After the exit: waits until the last log lines and output are read.
    fn join_drain(&mut self) {
        for drain in self.drains.drain(..) {
            let _ = drain.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of a header (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; `Null` when empty or not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// `GET path` on 127.0.0.1:`port`.
pub fn http_get(port: u16, path: &str) -> HttpResponse {
    http_request(port, "GET", path, &[], None)
}

/// One request to 127.0.0.1:`port` on its own connection, with extra headers and, if given, a
/// JSON body; panics if the server cannot be reached or does not answer within 10 seconds.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> HttpResponse {
    try_request(port, method, path, headers, body)
        .unwrap_or_else(|err| panic!("{method} {path} on 127.0.0.1:{port}: {err}"))
}

fn try_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    let body = body.map(Value::to_string);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if body.is_some() || !matches!(method, "GET" | "HEAD") {
        let length = body.as_ref().map_or(0, String::len);
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.unwrap_or_default().as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = line_end + 2;
        out.extend_from_slice(body.get(start..start + size)?);
        body = body.get(start + size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_plain_and_a_chunked_response() {
        let plain = parse_response(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-Request-Id: r1\r\n\r\n{\"a\":1}",
        )
        .unwrap();
        assert_eq!(plain.status, 404);
        assert_eq!(plain.header("x-request-id"), Some("r1"));
        assert_eq!(plain.json()["a"], 1);

        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.text(), "abcde");
        assert_eq!(chunked.json(), Value::Null);

        assert!(parse_response(b"garbage").is_none());
    }
}
