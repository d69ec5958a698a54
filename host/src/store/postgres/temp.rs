//! A throwaway PostgreSQL server for tests: `initdb` into a temporary
//! directory and `pg_ctl` on a loopback port, from the machine's
//! PostgreSQL (`$GLBRIDGE_PG_BIN`, else the newest
//! `/usr/lib/postgresql/<version>/bin`, else `PATH`). Run as root, the
//! server runs as the `postgres` user (`initdb` refuses root). It is
//! stopped and deleted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running throwaway server.
#[derive(Debug)]
pub struct TempServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    databases: AtomicU32,
}

/// Why the server could not be started or driven.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TempServerError(String);

fn fail(what: impl Into<String>) -> TempServerError {
    TempServerError(what.into())
}

/// Where `initdb` and `pg_ctl` are.
fn bin_dir() -> Result<PathBuf, TempServerError> {
    if let Some(dir) = std::env::var_os("GLBRIDGE_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|p| PathBuf::from(p.trim()));
    match found.as_deref().and_then(Path::parent) {
        Some(dir) => Ok(dir.to_path_buf()),
        None => Err(fail(
            "no PostgreSQL server found (set GLBRIDGE_PG_BIN, or install Debian's `postgresql` package)",
        )),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.stdout.trim_ascii() == b"0")
}

fn free_port() -> Result<u16, TempServerError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail(e.to_string()))?;
    Ok(l.local_addr().map_err(|e| fail(e.to_string()))?.port())
}

impl TempServer {
    /// Creates a cluster in a new temporary directory and starts it.
    pub fn start() -> Result<TempServer, TempServerError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "glbridge-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| fail(format!("chown: {e}")))?;
            if !status.success() {
                return Err(fail(
                    "cannot hand the data directory to the `postgres` user (is there one?)",
                ));
            }
        }
        let server = TempServer {
            bin,
            dir,
            port: free_port()?,
            as_postgres,
            databases: AtomicU32::new(0),
        };
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        server.resume()?;
        Ok(server)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), TempServerError> {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| fail(format!("{}: {e}", program.display())))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(fail(format!(
                "{tool} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }

    /// Starts the server (again, after [`TempServer::stop`]) and waits until
    /// it takes connections.
    pub fn resume(&self) -> Result<(), TempServerError> {
        let data = self.dir.join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-o",
                &options,
                "-l",
                &self.dir.join("server.log").to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// Stops the server (fast: open connections are closed).
    pub fn stop(&self) -> Result<(), TempServerError> {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", &data.to_string_lossy(), "-m", "fast", "-w", "stop"],
        )
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates a new, empty database; its URL.
    pub fn database(&self) -> Result<String, TempServerError> {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let psql = self.bin.join("psql");
        let out = Command::new(&psql)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .arg("postgres")
            .output()
            .map_err(|e| fail(format!("{}: {e}", psql.display())))?;
        if !out.status.success() {
            return Err(fail(format!(
                "creating database {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for TempServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
