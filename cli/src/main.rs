//! `glbridge`: the glbridge component from the command line. Every command
//! runs through the component in wasmtime.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use glbridge_host::guest::webhook::WebhookError;
use glbridge_host::guest::{Config, Timestamp};
use glbridge_host::{
    Bridge, BridgeOptions, ComponentSource, Env, HostError, MemoryStore, SystemClock, UreqTransport,
};

/// Connects helpdesks to the Gradient Labs AI agent.
///
/// All protocol and signature logic lives in one WebAssembly component; this
/// command loads it in wasmtime and supplies HTTP, time and storage.
#[derive(Parser)]
#[command(name = "glbridge", version, about, long_about = None)]
struct Cli {
    /// Load this component file instead of the embedded one.
    #[arg(long, global = true, value_name = "FILE", env = "GLBRIDGE_COMPONENT")]
    component: Option<PathBuf>,
    /// How log lines are written to stderr: `text` (coloured only on a
    /// terminal, never with NO_COLOR set) or `json` (one object per line).
    /// RUST_LOG picks what is logged.
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        env = "GLBRIDGE_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: glbridge_cli::logs::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a component (for other runtimes: jco, a helpdesk's plugin
    /// runtime) to a file.
    ///
    /// Three worlds, for three sizes of job (wit/world.wit):
    ///
    ///   verifier  verify, parse and sign the AI agent's webhooks; imports
    ///             `clock` only (a serverless webhook handler)
    ///
    ///   client    every API operation, typed, over the `http` import; the
    ///             import-free `protocol` (build a request, send it yourself,
    ///             parse the answer); and the verifier's `webhooks`
    ///
    ///   bridge    everything: the client, webhook ordering, the bridge core
    ///             and the Gleap, Chatwoot and Zendesk adapters; adds `store`
    ///
    /// The file is loaded and checked against its world before it is
    /// written.
    Component {
        /// Which world: verifier, client or bridge.
        #[arg(long, value_name = "WORLD", default_value = "bridge")]
        world: glbridge_host::World,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign or verify webhooks (X-GradientLabs-Signature).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Run any API operation against GLBRIDGE_API_URL with GLBRIDGE_API_KEY.
    ///
    /// Parameters use the API's JSON field names plus the path parameters
    /// (conversation_id, name, id). Prints the JSON result, or the typed error
    /// as JSON on stderr (exit 1). Example:
    ///
    ///   glbridge api conversations.read --json '{"conversation_id":"c-1"}'
    Api(ApiArgs),
    /// List every operation `glbridge api` accepts: name, the key it needs
    /// (I = Integration, M = Management, I/M = either), method and path, and
    /// what it does. `glbridge api OP --help` shows one's parameters.
    Operations,
    /// Run a local, offline stand-in for the AI-agent API.
    ///
    /// It speaks the API like the real service (paths, JSON, errors, roles)
    /// and plays a simple, deterministic AI agent that answers from the
    /// articles it was given, hands off, finishes and calls actions, sending
    /// signed webhooks to --webhook-url. Keys not given are generated and
    /// printed. Stops cleanly on Ctrl-C or SIGTERM.
    Sandbox(SandboxArgs),
    /// Run the bridge as a service: Gleap's custom API action in, the AI agent's replies out.
    ///
    /// Routes: POST /gleap/action (Gleap), POST /webhooks/gradient-labs (the
    /// AI agent's webhooks), GET /healthz, GET /metrics (Prometheus).
    /// Settings come from flags, then GLBRIDGE_* environment variables, then
    /// the TOML file given with --config. With no --api-url/--api-key it
    /// starts the sandbox in-process and wires both sides together.
    Serve(Box<ServeArgs>),
    /// One command, no configuration: the sandbox and the service in-process,
    /// three Gleap conversations played through them (an article answer, an
    /// action, a hand-off), each turn printed with its latency.
    Demo,
}

#[derive(Args)]
struct ServeArgs {
    /// TOML file with any of the settings below (lowest precedence).
    #[arg(long, env = "GLBRIDGE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GLBRIDGE_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// AI-agent API base URL (omit with --api-key to use the embedded sandbox).
    #[arg(long, env = "GLBRIDGE_API_URL")]
    api_url: Option<String>,
    /// Integration API key.
    #[arg(long, env = "GLBRIDGE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Webhook signing key (required with --api-url).
    #[arg(long, env = "GLBRIDGE_WEBHOOK_SIGNING_KEY", hide_env_values = true)]
    webhook_signing_key: Option<String>,
    /// Where the bridge's state is: a SQLite file, or a PostgreSQL URL
    /// (postgres://user:password@host:port/db) that several replicas share
    /// [default: ./glbridge.db].
    #[arg(
        long,
        env = "GLBRIDGE_STORE",
        value_name = "FILE|URL",
        hide_env_values = true
    )]
    store: Option<String>,
    /// With a PostgreSQL store: how long a replica's claim on a lane of
    /// outbound work (a Chatwoot conversation's calls, the tick) lasts
    /// unless extended; the longest a dead replica holds up its lanes
    /// [default: 30s].
    #[arg(long, env = "GLBRIDGE_LEASE_TTL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    lease_ttl: Option<std::time::Duration>,
    /// With a PostgreSQL store: this replica's name in the leases it takes
    /// [default: host name, process id and a random part].
    #[arg(long, env = "GLBRIDGE_REPLICA", value_name = "NAME")]
    replica: Option<String>,
    /// How long a Gleap call waits for the agent's answer [default: 8s].
    #[arg(long, env = "GLBRIDGE_REPLY_WAIT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    reply_wait: Option<std::time::Duration>,
    /// After the agent's last message of a turn, how long a trailing finish
    /// or hand-off still goes into the same Gleap answer [default: 200ms].
    #[arg(long, env = "GLBRIDGE_SETTLE", value_name = "DURATION", value_parser = humantime::parse_duration)]
    settle: Option<std::time::Duration>,
    /// What an acknowledged webhook survives: `process` (a crash or kill of
    /// this process; SQLite WAL with synchronous=NORMAL) or `power-loss`
    /// (also an OS crash or power cut: every commit is fsynced)
    /// [default: process].
    #[arg(long, env = "GLBRIDGE_DURABILITY", value_name = "LEVEL", value_parser = parse_durability)]
    durability: Option<glbridge_host::Durability>,
    /// SQLite: the most disk the WAL file takes, e.g. `256MiB` (at least
    /// 16MiB). It starts over at about half of it; a larger bound makes
    /// that rarer (each time stalls commits briefly) [default: 256MiB].
    #[arg(long, env = "GLBRIDGE_WAL_LIMIT", value_name = "SIZE", value_parser = parse_size)]
    wal_limit: Option<usize>,
    /// Worker threads, each with its own instance of the component
    /// [default: two per core].
    #[arg(long, env = "GLBRIDGE_WORKERS", value_name = "N")]
    workers: Option<usize>,
    /// The exact Authorization header value Gleap sends (compared in constant time).
    #[arg(long, env = "GLBRIDGE_GLEAP_SECRET", hide_env_values = true)]
    gleap_secret: Option<String>,
    /// Bearer token GET /metrics requires (without it /metrics is open to
    /// anyone who can reach the port).
    #[arg(long, env = "GLBRIDGE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,

    /// Accept Gleap calls without an Authorization header (never in production).
    #[arg(long)]
    insecure_no_gleap_auth: bool,
    /// Gleap REST API key, to push replies that arrive after a call returned.
    #[arg(long, env = "GLBRIDGE_GLEAP_API_KEY", hide_env_values = true)]
    gleap_api_key: Option<String>,
    /// Gleap project id (with --gleap-api-key).
    #[arg(long, env = "GLBRIDGE_GLEAP_PROJECT_ID")]
    gleap_project_id: Option<String>,
    /// Gleap REST base URL [default: https://api.gleap.io/v3].
    #[arg(long, env = "GLBRIDGE_GLEAP_API_URL")]
    gleap_api_url: Option<String>,
    /// An action endpoint, NAME=URL (repeatable; headers via the TOML file).
    #[arg(long = "action", value_name = "NAME=URL", value_parser = parse_action)]
    actions: Vec<glbridge_host::guest::bridge::ActionEndpoint>,
    /// Answered when the agent has not replied in time.
    #[arg(long, env = "GLBRIDGE_HOLDING_TEXT")]
    holding_text: Option<String>,
    /// Answered on a hand-off.
    #[arg(long, env = "GLBRIDGE_HAND_OFF_TEXT")]
    hand_off_text: Option<String>,
    /// How long a client has to send a request's header; a keep-alive
    /// connection idle this long between requests is closed too
    /// [default: 10s].
    #[arg(long, env = "GLBRIDGE_HEADER_READ_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    header_read_timeout: Option<std::time::Duration>,
    /// How long a client has to send a whole request body (408 after)
    /// [default: 30s].
    #[arg(long, env = "GLBRIDGE_BODY_READ_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    body_read_timeout: Option<std::time::Duration>,
    /// Most client connections open at once [default: the open-file limit
    /// (ulimit -n, its soft limit raised to the hard one) less 64; never
    /// more]. An eighth of them (8 to 1,024) is kept from Gleap calls, so
    /// the agent's and Chatwoot's events always get in: past their share,
    /// the oldest waiting Gleap call answers with what it has. At the cap,
    /// the oldest idle connection is closed for a newcomer.
    #[arg(long, env = "GLBRIDGE_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// Chatwoot's base URL, to bridge its agent bot too (events to
    /// POST /chatwoot/webhook; replies through its REST API).
    #[arg(long, env = "GLBRIDGE_CHATWOOT_URL", value_name = "URL")]
    chatwoot_url: Option<String>,
    /// The Chatwoot agent bot's access token (sent as `api_access_token`).
    #[arg(long, env = "GLBRIDGE_CHATWOOT_BOT_TOKEN", hide_env_values = true)]
    chatwoot_bot_token: Option<String>,
    /// The agent bot's webhook secret: events must carry a valid
    /// X-Chatwoot-Signature (Chatwoot 4.13 and later).
    #[arg(long, env = "GLBRIDGE_CHATWOOT_SECRET", hide_env_values = true)]
    chatwoot_secret: Option<String>,
    /// For older Chatwoot servers that do not sign: a long random token the
    /// bot URL must carry (`/chatwoot/webhook?token=...`).
    #[arg(long, env = "GLBRIDGE_CHATWOOT_URL_TOKEN", hide_env_values = true)]
    chatwoot_url_token: Option<String>,
    /// How far X-Chatwoot-Timestamp may be from now [default: 5m].
    #[arg(long, env = "GLBRIDGE_CHATWOOT_WINDOW", value_name = "DURATION", value_parser = humantime::parse_duration)]
    chatwoot_window: Option<std::time::Duration>,
    /// Accept Chatwoot events without a signature or URL token (never in
    /// production).
    #[arg(long)]
    insecure_no_chatwoot_auth: bool,
    /// Zendesk messaging's (Sunshine Conversations) base URL, e.g.
    /// `https://acme.zendesk.com/sc`, to bridge it too (deliveries to
    /// POST /zendesk/webhook; replies through its API). Hand-off targets
    /// and the AI author subtype are set in the file's `[zendesk]` table.
    #[arg(long, env = "GLBRIDGE_ZENDESK_URL", value_name = "URL")]
    zendesk_url: Option<String>,
    /// The Sunshine Conversations app id.
    #[arg(long, env = "GLBRIDGE_ZENDESK_APP_ID")]
    zendesk_app_id: Option<String>,
    /// The Zendesk API key's id (Basic auth).
    #[arg(long, env = "GLBRIDGE_ZENDESK_KEY_ID")]
    zendesk_key_id: Option<String>,
    /// The Zendesk API key's secret (Basic auth).
    #[arg(long, env = "GLBRIDGE_ZENDESK_KEY_SECRET", hide_env_values = true)]
    zendesk_key_secret: Option<String>,
    /// The Zendesk webhook's secret: every delivery must carry it as
    /// X-API-Key.
    #[arg(long, env = "GLBRIDGE_ZENDESK_WEBHOOK_SECRET", hide_env_values = true)]
    zendesk_webhook_secret: Option<String>,
    /// The bot's switchboard integration (its id or name): control passed
    /// to it hands the conversation back to the AI agent.
    #[arg(long, env = "GLBRIDGE_ZENDESK_BOT_NAME")]
    zendesk_bot_name: Option<String>,
    /// Most request-body bytes held in memory at once over all requests
    /// (a request that would pass it waits, then gets 503), e.g. `64MiB`
    /// [default: 64MiB].
    #[arg(long, env = "GLBRIDGE_MAX_BUFFERED_BODY", value_name = "SIZE", value_parser = parse_size)]
    max_buffered_body: Option<usize>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    glbridge_cli::serve::config::parse_size(s).map_err(|e| e.to_string())
}

fn parse_durability(s: &str) -> Result<glbridge_host::Durability, String> {
    glbridge_cli::serve::config::parse_durability(s).map_err(|e| e.to_string())
}

fn parse_action(s: &str) -> Result<glbridge_host::guest::bridge::ActionEndpoint, String> {
    glbridge_cli::serve::config::parse_action_flag(s).map_err(|e| e.to_string())
}

#[derive(Args)]
struct SandboxArgs {
    /// Address to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:4010",
        env = "GLBRIDGE_SANDBOX_LISTEN"
    )]
    listen: std::net::SocketAddr,
    /// Where to deliver webhooks (without it, assigning to the AI agent fails, as in the real API).
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Webhook signing key (random when absent).
    #[arg(long, env = "GLBRIDGE_SANDBOX_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// Key with the Integration role (random when absent).
    #[arg(long, env = "GLBRIDGE_SANDBOX_INTEGRATION_KEY", hide_env_values = true)]
    integration_key: Option<String>,
    /// Key with the Management role (random when absent).
    #[arg(long, env = "GLBRIDGE_SANDBOX_MANAGEMENT_KEY", hide_env_values = true)]
    management_key: Option<String>,
    /// Keep state in this SQLite file across runs (in memory otherwise).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Preload articles, topics, hand-off targets and actions (JSON, or TOML by extension).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Scale of the webhook retry schedule: 1s is the documented one (36
    /// attempts over ~24 h); 1ms runs it in ~90 s.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    retry_base: std::time::Duration,
    /// Delay added to every API answer.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    latency: std::time::Duration,
    /// Fraction (0..1) of API requests answered 503 or 429 on purpose.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0, value_parser = fraction)]
    fail_rate: f64,
    /// How long a client has to send a request's header; a keep-alive
    /// connection idle this long is closed too.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    header_read_timeout: std::time::Duration,
    /// Longest pause allowed inside a request body.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    body_read_timeout: std::time::Duration,
    /// Most client connections open at once (lowered to fit ulimit -n).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_connections: usize,
    /// Most request-body bytes held in memory at once over all requests (a
    /// request that would pass it waits, then gets 503), e.g. `64MiB`.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    max_buffered_body: usize,
}

fn fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err("must be between 0 and 1".into())
    }
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Print the signature header value for a body: t=<unix>,v1=<hex>.
    Sign {
        /// The webhook signing key (used as its UTF-8 bytes).
        #[arg(long, env = "GLBRIDGE_WEBHOOK_SIGNING_KEY", hide_env_values = true)]
        signing_key: String,
        /// Unix seconds to sign at (default: now).
        #[arg(long, value_name = "UNIX")]
        timestamp: Option<i64>,
        /// The raw body; `-` reads standard input.
        #[arg(long, value_name = "FILE", default_value = "-")]
        body_file: String,
    },
    /// Verify a signature over a body and print the event as JSON.
    ///
    /// Exit 0: valid (event on stdout). Exit 1: bad, stale or malformed
    /// signature (reason on stderr). Exit 3: good signature but the body is
    /// not a webhook envelope. Exit 2: usage error.
    Verify {
        /// The webhook signing key (used as its UTF-8 bytes).
        #[arg(long, env = "GLBRIDGE_WEBHOOK_SIGNING_KEY", hide_env_values = true)]
        signing_key: String,
        /// The X-GradientLabs-Signature header value.
        #[arg(long, value_name = "HEADER")]
        signature: String,
        /// The X-GradientLabs-Token header value, if any.
        #[arg(long)]
        token: Option<String>,
        /// Unix seconds to check against (default: now).
        #[arg(long, value_name = "UNIX")]
        now: Option<i64>,
        /// Allowed distance between the signature's time and now, seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        leeway: u32,
        /// The raw body; `-` reads standard input.
        #[arg(long, value_name = "FILE", default_value = "-")]
        body_file: String,
    },
}

#[derive(Args)]
#[command(disable_help_flag = true)]
struct ApiArgs {
    /// Operation name, e.g. conversations.start (see `glbridge operations`).
    operation: Option<String>,
    /// Print help; after an operation name, that operation's parameters.
    #[arg(short = 'h', long = "help", action = clap::ArgAction::SetTrue)]
    help: bool,
    /// Parameters as a JSON object; `@FILE` reads them from a file.
    #[arg(long, value_name = "PARAMS", default_value = "{}")]
    json: String,
    /// API base URL.
    #[arg(
        long,
        env = "GLBRIDGE_API_URL",
        default_value = "https://api.gradient-labs.ai"
    )]
    api_url: String,
    /// API key (Integration or Management, as the operation needs).
    #[arg(long, env = "GLBRIDGE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Per-request timeout, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u32,
    /// Total attempts for transient failures.
    #[arg(long, default_value_t = 4)]
    max_attempts: u32,
}

/// `glbridge api --help`, or with an operation, its parameters as the
/// component's table declares them.
fn api_help(component: Option<PathBuf>, operation: Option<&str>) -> Result<ExitCode> {
    let Some(operation) = operation else {
        let mut command = <Cli as clap::CommandFactory>::command();
        if let Some(api) = command.find_subcommand_mut("api") {
            api.print_long_help()?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut session = bridge(component)?.session(env());
    let d = session.describe(operation)?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let key = match text(&d, "role").as_str() {
        "integration" => "the Integration key",
        "management" => "the Management key",
        _ => "an Integration or Management key (the official clients disagree)",
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{operation}: {}", text(&d, "summary"))?;
    writeln!(out)?;
    writeln!(
        out,
        "  {} /{}    needs {key}",
        text(&d, "method"),
        text(&d, "path")
    )?;
    let params = d
        .get("params")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    writeln!(out)?;
    if params.is_empty() {
        writeln!(out, "No parameters.")?;
    } else {
        writeln!(out, "Parameters, as one JSON object in --json:")?;
        let width = params
            .iter()
            .map(|p| text(p, "name").len())
            .max()
            .unwrap_or(0);
        for p in &params {
            let required = p.get("required").and_then(|v| v.as_bool()).unwrap_or(false);
            writeln!(
                out,
                "  {:width$}  {:5}  {:8}  {}",
                text(p, "name"),
                text(p, "in"),
                if required { "required" } else { "optional" },
                text(p, "type"),
            )?;
        }
    }
    if d.get("paginated")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    {
        writeln!(out)?;
        writeln!(
            out,
            "A page at a time: the answer's `next` is the cursor of the next page. \
             Add \"all_pages\": true to fetch every page at once."
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn bridge(component: Option<PathBuf>) -> Result<Bridge> {
    let source = component.map(ComponentSource::File).unwrap_or_default();
    Ok(Bridge::new(BridgeOptions {
        component: source,
        ..Default::default()
    })?)
}

fn env() -> Env {
    Env::new(
        Arc::new(UreqTransport::new()),
        Arc::new(SystemClock),
        Arc::new(MemoryStore::default()),
    )
}

fn read_body(path: &str) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    if path == "-" {
        std::io::stdin()
            .read_to_end(&mut body)
            .context("reading the body from standard input")?;
    } else {
        body = std::fs::read(path).with_context(|| format!("reading the body from {path}"))?;
    }
    Ok(body)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("glbridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let init_logs = |default: &str| glbridge_cli::logs::init(default, cli.log_format);
    match cli.command {
        Command::Component { world, out } => {
            let bytes: Vec<u8> = match &cli.component {
                Some(path) => {
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
                }
                None => world.embedded().to_vec(),
            };
            // Load it once so a broken file is reported here, not by the user's runtime.
            world
                .check(&bytes)
                .with_context(|| format!("checking the {world} component"))?;
            if world == glbridge_host::World::Bridge {
                Bridge::new(BridgeOptions {
                    component: ComponentSource::Bytes(bytes.clone()),
                    ..Default::default()
                })?;
            }
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {} (the {world} world, {} bytes)",
                out.display(),
                bytes.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox(args) => {
            init_logs("info");
            sandbox(args)
        }
        Command::Serve(args) => {
            init_logs("info");
            serve(*args)
        }
        Command::Demo => {
            init_logs("warn");
            glbridge_cli::demo::run()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Operations => {
            let mut session = bridge(cli.component)?.session(env());
            let mut rows = Vec::new();
            for name in session.operations()? {
                let d = session.describe(&name)?;
                let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                let role = match text("role").as_str() {
                    "integration" => "I",
                    "management" => "M",
                    _ => "I/M",
                };
                rows.push([
                    name,
                    role.to_owned(),
                    format!("{} /{}", text("method"), text("path")),
                    text("summary"),
                ]);
            }
            let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
            let (w0, w1, w2) = (width(0), width(1), width(2));
            let mut out = std::io::stdout().lock();
            for [name, role, route, summary] in &rows {
                writeln!(out, "{name:w0$}  {role:w1$}  {route:w2$}  {summary}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Webhook(WebhookCommand::Sign {
            signing_key,
            timestamp,
            body_file,
        }) => {
            let body = read_body(&body_file)?;
            let env = env();
            let t = timestamp.unwrap_or_else(|| env.clock.now().secs());
            let mut session = bridge(cli.component)?.session(env);
            println!("{}", session.webhook_sign(&signing_key, t, &body)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Webhook(WebhookCommand::Verify {
            signing_key,
            signature,
            token,
            now,
            leeway,
            body_file,
        }) => {
            let body = read_body(&body_file)?;
            let mut session = bridge(cli.component)?.session(env());
            let now = now.map(Timestamp::from_secs);
            match session.webhook_receive(
                &signing_key,
                &signature,
                token.as_deref(),
                &body,
                now,
                Some(leeway),
            ) {
                Ok(event) => {
                    let json = session.event_json(&event)?;
                    println!("{}", serde_json::to_string_pretty(&json)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(HostError::Webhook(e @ WebhookError::InvalidEnvelope(_))) => {
                    eprintln!("glbridge: signature valid, but {e}");
                    Ok(ExitCode::from(3))
                }
                Err(HostError::Webhook(e)) => {
                    eprintln!("glbridge: {e}");
                    Ok(ExitCode::FAILURE)
                }
                Err(other) => Err(other.into()),
            }
        }
        Command::Api(args) => {
            let (Some(operation), false) = (&args.operation, args.help) else {
                return api_help(cli.component, args.operation.as_deref());
            };
            let Some(api_key) = args.api_key.clone() else {
                anyhow::bail!("an API key is needed: --api-key or GLBRIDGE_API_KEY");
            };
            let params = match args.json.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("reading parameters from {path}"))?,
                None => args.json.clone(),
            };
            let mut config = Config::new(args.api_url, api_key);
            config.timeout_ms = args.timeout_ms;
            config.retry.max_attempts = args.max_attempts;
            config.retry.jitter_seed = jitter_seed();
            let mut session = bridge(cli.component)?.session(env());
            let result = session
                .open_client(&config)
                .and_then(|()| session.call(operation, &params));
            match result {
                Ok(value) => {
                    println!("{}", serde_json::to_string_pretty(&value)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(HostError::Api(e)) => {
                    let mut stderr = std::io::stderr().lock();
                    writeln!(stderr, "{}", serde_json::to_string_pretty(&e)?)?;
                    writeln!(stderr, "glbridge: {e}")?;
                    Ok(ExitCode::FAILURE)
                }
                Err(other) => Err(other.into()),
            }
        }
    }
}

fn sandbox(args: SandboxArgs) -> Result<ExitCode> {
    use glbridge_sandbox::{random_key, Sandbox, SandboxConfig, Seed};
    let seed = args
        .seed
        .as_deref()
        .map(Seed::load)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    // A key the user gave is not echoed; one made up here is printed once
    // on stdout (not the log), since nobody else knows it.
    let made_up = |given: Option<String>, prefix: &str| match given {
        Some(key) => (key, None),
        None => {
            let key = random_key(prefix);
            (key.clone(), Some(key))
        }
    };
    let (signing_key, shown_signing) = made_up(args.signing_key, "whsec_");
    let (integration_key, shown_integration) = made_up(args.integration_key, "sk_int_");
    let (management_key, shown_management) = made_up(args.management_key, "sk_mgmt_");
    let config = SandboxConfig {
        listen: args.listen,
        webhook_url: args.webhook_url,
        signing_key,
        integration_key,
        management_key,
        store: args.store,
        seed,
        retry_base: args.retry_base,
        latency: args.latency,
        fail_rate: args.fail_rate,
        limits: glbridge_sandbox::background::ConnectionLimits {
            header_read_timeout: args.header_read_timeout,
            max_connections: args.max_connections.max(1),
        },
        body_read_timeout: args.body_read_timeout,
        max_buffered_body: args.max_buffered_body,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config)?;
    let c = sandbox.config();
    println!("glbridge sandbox listening on {}", sandbox.url());
    let show = |key: Option<String>| key.unwrap_or_else(|| "(as given)".into());
    println!("  integration key:  {}", show(shown_integration));
    println!("  management key:   {}", show(shown_management));
    println!("  signing key:      {}", show(shown_signing));
    match &c.webhook_url {
        Some(url) => println!("  webhooks go to:   {url}"),
        None => println!("  webhooks:         none (pass --webhook-url to let the AI agent reply)"),
    }
    if let Some(store) = &c.store {
        println!("  state kept in:    {}", store.display());
    }
    println!("Press Ctrl-C to stop.");
    std::io::stdout().flush()?;
    wait_for_shutdown()?;
    sandbox.stop();
    eprintln!("glbridge sandbox stopped");
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    use glbridge_cli::serve::config::{actions, rest, FileConfig};
    use glbridge_cli::serve::{ServeConfig, Service, StoreLocation, Upstream};
    use glbridge_host::guest::client::Secret;
    // A server holding many connections wants every descriptor it may
    // have: the soft open-file limit is raised to the hard one.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::debug!("the open-file limit stays as it is: {e}");
    }
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let api_url = args.api_url.or(file.api_url.clone());
    let api_key = args.api_key.or(file.api_key.clone());
    let signing_key = args
        .webhook_signing_key
        .or(file.webhook_signing_key.clone());
    let upstream = match (api_url, api_key) {
        (None, None) => Upstream::EmbeddedSandbox {
            seed: Some(glbridge_cli::demo::seed()),
        },
        (Some(url), Some(key)) => {
            let signing_key = signing_key.ok_or_else(|| anyhow::anyhow!("--webhook-signing-key is required with --api-url (it verifies the agent's webhooks)"))?;
            Upstream::Api {
                url,
                api_key: Secret::new(key),
                signing_key: Secret::new(signing_key),
            }
        }
        _ => anyhow::bail!(
            "give both --api-url and --api-key, or neither to use the embedded sandbox"
        ),
    };
    let embedded = matches!(upstream, Upstream::EmbeddedSandbox { .. });
    let gleap_secret = args.gleap_secret.or(file.gleap_secret.clone());
    let insecure = args.insecure_no_gleap_auth || file.insecure_no_gleap_auth.unwrap_or(false);
    let chatwoot = glbridge_cli::serve::config::chatwoot(
        glbridge_cli::serve::config::ChatwootFlags {
            url: args.chatwoot_url.clone(),
            bot_token: args.chatwoot_bot_token.clone(),
            secret: args.chatwoot_secret.clone(),
            url_token: args.chatwoot_url_token.clone(),
            window: args.chatwoot_window,
            insecure: args.insecure_no_chatwoot_auth,
        },
        &file,
    )?;
    let zendesk = glbridge_cli::serve::config::zendesk(
        glbridge_cli::serve::config::ZendeskFlags {
            url: args.zendesk_url.clone(),
            app_id: args.zendesk_app_id.clone(),
            key_id: args.zendesk_key_id.clone(),
            key_secret: args.zendesk_key_secret.clone(),
            webhook_secret: args.zendesk_webhook_secret.clone(),
            bot_name: args.zendesk_bot_name.clone(),
        },
        &file,
    )?;
    // Bridging only other helpdesks: no Gleap route at all, rather than an
    // open one.
    let others = chatwoot.is_some() || zendesk.is_some();
    let gleap_enabled = gleap_secret.is_some() || insecure || embedded || !others;
    if gleap_secret.is_none() && !insecure && !embedded && !others {
        anyhow::bail!(
            "no Gleap secret: set GLBRIDGE_GLEAP_SECRET (or --gleap-secret) to the Authorization header value configured in Gleap's custom API action, or pass --insecure-no-gleap-auth to accept unauthenticated calls"
        );
    }
    let duration = |flag: Option<std::time::Duration>, file: Option<&str>, name: &str| {
        flag.map(Ok)
            .or_else(|| file.map(humantime::parse_duration))
            .transpose()
            .with_context(|| name.to_owned())
    };
    let mut config = ServeConfig::new(
        upstream,
        StoreLocation::parse(
            &args
                .store
                .or(file.store.clone())
                .unwrap_or_else(|| "glbridge.db".into()),
        ),
    );
    if let Some(ttl) = duration(args.lease_ttl, file.lease_ttl.as_deref(), "lease_ttl")? {
        if ttl < std::time::Duration::from_secs(1) {
            anyhow::bail!(
                "--lease-ttl must be at least 1s, not {}",
                humantime::format_duration(ttl)
            );
        }
        config.lease_ttl = ttl;
    }
    config.replica = args.replica.or(file.replica.clone());
    config.listen = args.listen.or(file.listen).unwrap_or(config.listen);
    config.gleap_secret = gleap_secret.map(Secret::new);
    config.insecure_no_gleap_auth = insecure;
    if let Some(wait) = args
        .reply_wait
        .map(Ok)
        .or_else(|| file.reply_wait.as_deref().map(humantime::parse_duration))
    {
        config.reply_wait = wait.context("reply_wait")?;
    }
    if let Some(settle) = args
        .settle
        .map(Ok)
        .or_else(|| file.settle.as_deref().map(humantime::parse_duration))
    {
        config.settle = settle.context("settle")?;
    }
    if let Some(d) = args.durability.map(Ok).or_else(|| {
        file.durability
            .as_deref()
            .map(glbridge_cli::serve::config::parse_durability)
    }) {
        config.durability = d.context("durability")?;
    }
    if let Some(n) = args.wal_limit.map(Ok).or_else(|| {
        file.wal_limit
            .as_deref()
            .map(glbridge_cli::serve::config::parse_size)
    }) {
        let n = n.context("wal_limit")? as u64;
        if n < glbridge_host::store::MIN_WAL_LIMIT {
            anyhow::bail!("--wal-limit must be at least 16MiB");
        }
        config.wal_limit = n;
    }
    config.metrics_token = args
        .metrics_token
        .or(file.metrics_token.clone())
        .map(Secret::new);
    if let Some(n) = args.workers.or(file.workers) {
        config.workers = n.max(1);
    }
    if let Some(t) = duration(
        args.header_read_timeout,
        file.header_read_timeout.as_deref(),
        "header_read_timeout",
    )? {
        config.limits.header_read_timeout = t;
    }
    if let Some(t) = duration(
        args.body_read_timeout,
        file.body_read_timeout.as_deref(),
        "body_read_timeout",
    )? {
        config.body_read_timeout = t;
    }
    if let Some(n) = args.max_connections.or(file.max_connections) {
        config.limits.max_connections = n.max(1);
    }
    if let Some(n) = args.max_buffered_body.map(Ok).or_else(|| {
        file.max_buffered_body
            .as_deref()
            .map(glbridge_cli::serve::config::parse_size)
    }) {
        config.max_buffered_body = n.context("max_buffered_body")?.max(1);
    }
    config.holding_text = args.holding_text.or(file.holding_text.clone());
    config.hand_off_text = args.hand_off_text.or(file.hand_off_text.clone());
    config.actions = actions(&file, &args.actions)?;
    let chatwoot_bridged = chatwoot.is_some();
    config.chatwoot = chatwoot;
    let zendesk_bridged = zendesk.is_some();
    config.zendesk = zendesk;
    config.gleap_enabled = gleap_enabled;
    config.rest = rest(
        args.gleap_api_key,
        args.gleap_project_id,
        args.gleap_api_url,
        &file,
    )?;
    let service = Service::start(config)?;
    if let Some(sandbox) = service.sandbox() {
        tracing::info!(api = %service.api_url(), "no --api-url/--api-key: started the sandbox in-process on loopback and wired it to this service");
        tracing::info!(webhooks = %sandbox.config().webhook_url.clone().unwrap_or_default(), "the sandbox delivers its webhooks here");
        if let Some(store) = &sandbox.config().store {
            tracing::info!(store = %store.display(), "the sandbox keeps its conversations and pending webhooks here");
        }
    } else {
        tracing::info!(api = %service.api_url(), "talking to the AI-agent API");
    }
    if !gleap_enabled {
        tracing::info!("no Gleap secret: Gleap is not bridged (POST /gleap/action is not served)");
    }
    let mut routes = Vec::new();
    if gleap_enabled {
        routes.push("POST /gleap/action");
    }
    routes.push("POST /webhooks/gradient-labs");
    if chatwoot_bridged {
        routes.push("POST /chatwoot/webhook");
    }
    if zendesk_bridged {
        routes.push("POST /zendesk/webhook");
    }
    routes.extend(["GET /healthz", "GET /metrics"]);
    tracing::info!(listen = %service.url(), "glbridge serve: {}", routes.join(", "));
    if insecure {
        tracing::warn!("--insecure-no-gleap-auth: Gleap calls are not authenticated");
    }
    if let Some(secret) = service.generated_gleap_secret() {
        // Shown once on the terminal (not in the log): a throwaway for local use.
        println!("Local Gleap Authorization header (generated for the embedded sandbox): {secret}");
    }
    wait_for_shutdown()?;
    tracing::info!("shutting down");
    service.stop();
    Ok(ExitCode::SUCCESS)
}

/// Blocks until Ctrl-C or SIGTERM.
fn wait_for_shutdown() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })?;
    Ok(())
}

/// A jitter seed that differs between runs, so separate processes do not
/// retry in lockstep.
fn jitter_seed() -> u64 {
    use glbridge_host::guest::env::Clock;
    SystemClock.now().0 as u64 ^ u64::from(std::process::id()).rotate_left(32)
}
