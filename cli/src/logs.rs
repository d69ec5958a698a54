//! The log: to stderr, as text (coloured only on a terminal) or as JSON
//! lines for log collectors, filtered by `RUST_LOG`.
//!
//! Secrets never reach it: the host's values redact them from `Debug`, and
//! the HTTP client's wire dumps — its `trace` records, which print every
//! header byte for byte, `Authorization` included — are dropped whatever
//! `RUST_LOG` asks for. The compiler's own `debug`/`trace` records (every
//! function of the component as it is compiled) appear only when `RUST_LOG`
//! names their targets.

use std::io::IsTerminal;

use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::prelude::*;

/// How log records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Targets whose `trace` records are raw wire dumps.
const WIRE_DUMPS: &[&str] = &["ureq", "ureq_proto", "rustls"];

fn is_wire_dump(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::TRACE
        && WIRE_DUMPS.iter().any(|t| {
            meta.target()
                .strip_prefix(t)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// The compiler's targets: at `debug` and `trace` they describe every
/// function of the component as it is compiled (gigabytes at start-up), so
/// they log at those levels only when `RUST_LOG` names them.
const COMPILER: &[&str] = &[
    "cranelift_codegen",
    "cranelift_frontend",
    "cranelift_entity",
    "regalloc2",
    "wasmtime_environ",
    "wasmtime_internal_cranelift",
    "wasmtime_cranelift",
    "wasmparser",
];

/// `RUST_LOG` (else `default`), with the compiler's targets kept at `info`
/// unless it names them.
fn env_filter(default: &str) -> EnvFilter {
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    for target in COMPILER {
        if !spec.contains(target) {
            if let Ok(directive) = format!("{target}=info").parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    filter
}

/// Colour only for a person at a terminal, and never when `NO_COLOR` is set.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's log: `RUST_LOG` when set, else `default`
/// (e.g. `"info"`). Does nothing if a log is already installed.
pub fn init(default: &str, format: LogFormat) {
    let filter = env_filter(default);
    let no_dumps = filter_fn(|meta| !is_wire_dump(meta));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer.with_ansi(colour()).boxed(),
        LogFormat::Json => layer.json().with_ansi(false).boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_filter(no_dumps))
        .try_init();
}
