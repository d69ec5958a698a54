//! Running `glbridge` as a child process in the CLI's tests: spawned with
//! its output in a file, stopped with SIGTERM, never left behind.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../host/tests/support/mod.rs"]
pub mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `glbridge` whose output goes to a file, as a log collector's
/// would (a pipe nobody reads while it runs would fill and stall it).
pub struct Running {
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl Drop for Running {
    /// A test that fails half-way leaves no process and no log behind; what
    /// the process printed last is shown with the failure.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            if let Ok(bytes) = std::fs::read(&self.log) {
                let tail = &bytes[bytes.len().saturating_sub(8192)..];
                eprintln!(
                    "--- the last lines glbridge printed ---\n{}",
                    String::from_utf8_lossy(tail)
                );
            }
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Running {
    spawn_with(None, args, env)
}

/// [`spawn`] with the open-file limit (`ulimit -n`) set to `nofile`.
pub fn spawn_with_nofile(nofile: u64, args: &[&str], env: &[(&str, &str)]) -> Running {
    spawn_with(Some(nofile), args, env)
}

fn spawn_with(nofile: Option<u64>, args: &[&str], env: &[(&str, &str)]) -> Running {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let log = std::env::temp_dir().join(format!(
        "glbridge-log-{}-{}.txt",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let file = std::fs::File::create(&log).unwrap();
    let exe = env!("CARGO_BIN_EXE_glbridge");
    let mut cmd = match nofile {
        None => Command::new(exe),
        Some(n) => {
            // The shell execs, so the child's pid is glbridge's.
            let mut c = Command::new("bash");
            c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), exe]);
            c
        }
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file));
    for k in [
        "GLBRIDGE_API_KEY",
        "GLBRIDGE_API_URL",
        "GLBRIDGE_WEBHOOK_SIGNING_KEY",
        "RUST_LOG",
        "NO_COLOR",
        "GLBRIDGE_LOG_FORMAT",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    Running {
        child: cmd.spawn().unwrap(),
        log,
    }
}

/// SIGTERM, then everything it printed (stdout and stderr).
pub fn stop(mut running: Running) -> String {
    let log = running.log.clone();
    Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    let status = running.child.wait().unwrap();
    assert!(status.success(), "stops cleanly on SIGTERM: {status}");
    let bytes = std::fs::read(&log).unwrap();
    drop(running);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A fresh directory for one test's files.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub fn wait_up(url: &str) {
    let started = Instant::now();
    while agent().get(url).call().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{url} never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The peak resident memory of process `pid` so far (VmHWM), bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kib * 1024
}

/// The CPU time (user + system) process `pid` has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

/// `glbridge serve` on `port` with `store`, against an API nobody answers
/// (these tests never reach it), with the webhook signing key `key`.
pub fn serve_args(port: u16, store: &std::path::Path, key: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--store",
        store.to_str().unwrap(),
        "--api-url",
        "http://127.0.0.1:9",
        "--api-key",
        "sk_unused",
        "--webhook-signing-key",
        key,
        "--insecure-no-gleap-auth",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.extend(extra.iter().map(ToString::to_string));
    args
}

/// The arguments as `&str`s, for [`spawn`].
pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A stand-in for the AI-agent API that accepts every call and never sends
/// a webhook, so Gleap calls wait for the agent until their deadline.
pub fn silent_api() -> (String, tokio::runtime::Runtime) {
    use axum::http::Uri;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|uri: Uri| async move {
        let path = uri.path().to_owned();
        let body = if path.ends_with("/messages") {
            r#"{"id":"m","body":"x","participant_id":"u","participant_type":"Customer"}"#
        } else if path.contains("/resources/") {
            "{}"
        } else {
            r#"{"id":"c","customer_id":"u","channel":"web","status":"active"}"#
        };
        ([("content-type", "application/json")], body)
    });
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, runtime)
}

/// The value of metric `name` (a line's prefix) on `/metrics`, 0 when absent.
pub fn metric(port: u16, name: &str) -> f64 {
    let text = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Opens a connection and sends a Gleap call for conversation `p<i>` (user
/// `u<i>`, one comment); the connection is left to the caller to read.
pub fn gleap_call(port: u16, i: usize) -> std::net::TcpStream {
    use std::io::Write;
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = format!(
        r#"{{"conversation":{{"id":"p{i}"}},"session":{{"userId":"u{i}"}},"comments":[{{"id":"c1","comment":"Hello?"}}]}}"#
    );
    write!(
        c,
        "POST /gleap/action HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    c
}

/// Waits until `glbridge_gleap_waiting` reaches `n`, for at most `within`.
pub fn wait_parked(port: u16, n: usize, within: Duration) {
    let started = Instant::now();
    while metric(port, "glbridge_gleap_waiting") < n as f64 {
        assert!(
            started.elapsed() < within,
            "only {} of {n} calls parked",
            metric(port, "glbridge_gleap_waiting")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the server closed `s` within `within` (rather than keeping it).
pub fn closed_within(s: &mut std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}
