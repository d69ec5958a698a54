//! `glbridge serve` configuration: flags, then `GLBRIDGE_*` environment,
//! then an optional TOML file, in that order of precedence.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use glbridge_guest::bridge::ActionEndpoint;
use glbridge_guest::client::Secret;
use glbridge_guest::helpdesk::chatwoot::adapter::Auth;
use glbridge_guest::helpdesk::chatwoot::{Settings, DEFAULT_WINDOW_SECS};
use glbridge_guest::helpdesk::gleap::adapter::RestConfig;
use glbridge_guest::helpdesk::zendesk::adapter::ZendeskConfig;
use glbridge_guest::helpdesk::zendesk::Settings as ZendeskSettings;
use glbridge_host::Durability;
use serde::Deserialize;

/// An action endpoint in the TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFile {
    /// Where to POST.
    pub url: String,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Timeout, e.g. `5s`.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// Gleap REST credentials in the TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GleapRestFile {
    /// API key.
    pub api_key: String,
    /// Project id.
    pub project_id: String,
    /// Base URL (default `https://api.gleap.io/v3`).
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Chatwoot in the TOML file (`[chatwoot]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatwootFile {
    /// Chatwoot's base URL.
    pub url: Option<String>,
    /// The agent bot's access token.
    pub bot_token: Option<String>,
    /// The agent bot's webhook secret (signed events, Chatwoot 4.13+).
    pub secret: Option<String>,
    /// The token expected in the bot URL (`?token=`), for unsigned servers.
    pub url_token: Option<String>,
    /// Signature timestamp window, e.g. `5m`.
    pub window: Option<String>,
    /// Accept unauthenticated events (never in production).
    pub insecure: Option<bool>,
    /// Hand-off target id → Chatwoot team id.
    #[serde(default)]
    pub teams: BTreeMap<String, u64>,
}

/// Zendesk messaging in the TOML file (`[zendesk]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskFile {
    /// e.g. `https://acme.zendesk.com/sc`.
    pub url: Option<String>,
    /// The Sunshine Conversations app id.
    pub app_id: Option<String>,
    /// The API key's id.
    pub key_id: Option<String>,
    /// The API key's secret.
    pub key_secret: Option<String>,
    /// The webhook's secret (`X-API-Key`).
    pub webhook_secret: Option<String>,
    /// The bot's switchboard integration (id or name).
    pub bot_name: Option<String>,
    /// Hand-off target id → switchboard integration.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    /// Where other hand-offs go (default `zd-agentWorkspace`).
    pub default_target: Option<String>,
    /// Replies carry the `AI` author subtype (default true).
    pub ai_subtype: Option<bool>,
}

/// The TOML file: every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// API base URL.
    pub api_url: Option<String>,
    /// Integration key.
    pub api_key: Option<String>,
    /// Webhook signing key.
    pub webhook_signing_key: Option<String>,
    /// SQLite file, or PostgreSQL URL.
    pub store: Option<String>,
    /// Lease length on a PostgreSQL store, e.g. `30s`.
    pub lease_ttl: Option<String>,
    /// This replica's name in leases.
    pub replica: Option<String>,
    /// Reply wait, e.g. `8s`.
    pub reply_wait: Option<String>,
    /// Settle window, e.g. `300ms`.
    pub settle: Option<String>,
    /// `process` or `power-loss`.
    pub durability: Option<String>,
    /// SQLite: the WAL file's size bound, e.g. `256MiB`.
    pub wal_limit: Option<String>,
    /// Worker threads.
    pub workers: Option<usize>,
    /// Gleap's Authorization header value.
    pub gleap_secret: Option<String>,
    /// Accept unauthenticated Gleap calls.
    pub insecure_no_gleap_auth: Option<bool>,
    /// Bearer token for GET /metrics.
    pub metrics_token: Option<String>,
    /// Holding text.
    pub holding_text: Option<String>,
    /// Hand-off text.
    pub hand_off_text: Option<String>,
    /// Gleap REST credentials.
    pub gleap_rest: Option<GleapRestFile>,
    /// Header-read (and idle keep-alive) timeout, e.g. `10s`.
    pub header_read_timeout: Option<String>,
    /// Body-read timeout, e.g. `30s`.
    pub body_read_timeout: Option<String>,
    /// Most connections at once.
    pub max_connections: Option<usize>,
    /// Most request-body bytes in memory at once, e.g. `64MiB`.
    pub max_buffered_body: Option<String>,
    /// Actions by name.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionFile>,
    /// Chatwoot.
    pub chatwoot: Option<ChatwootFile>,
    /// `[zendesk]`.
    pub zendesk: Option<ZendeskFile>,
}

impl FileConfig {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }
}

/// Parses a durability level: `process` or `power-loss`.
pub fn parse_durability(s: &str) -> Result<Durability> {
    match s {
        "process" => Ok(Durability::Process),
        "power-loss" => Ok(Durability::PowerLoss),
        other => bail!("durability is `process` or `power-loss`, not {other:?}"),
    }
}

/// Parses a size: bytes, or a number with `KiB`, `MiB` or `GiB` (also `K`,
/// `M`, `G`; powers of 1024).
pub fn parse_size(s: &str) -> Result<usize> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .with_context(|| format!("a size is a number of bytes, or with KiB/MiB/GiB, not {s:?}"))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => bail!("unknown size unit {other:?} in {s:?} (use KiB, MiB or GiB)"),
    };
    n.checked_mul(scale)
        .with_context(|| format!("{s:?} is too large"))
}

/// Parses `NAME=URL`.
pub fn parse_action_flag(s: &str) -> Result<ActionEndpoint> {
    let Some((name, url)) = s.split_once('=') else {
        bail!("--action takes NAME=URL, not {s:?}");
    };
    endpoint(name, url, BTreeMap::new(), None)
}

fn endpoint(
    name: &str,
    url: &str,
    headers: BTreeMap<String, String>,
    timeout: Option<Duration>,
) -> Result<ActionEndpoint> {
    if name.trim().is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("action {name:?} needs a name and an http(s) URL, not {url:?}");
    }
    Ok(ActionEndpoint {
        name: name.to_owned(),
        url: url.to_owned(),
        headers: headers.into_iter().collect(),
        timeout_ms: timeout.map_or(9_000, |t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)),
    })
}

/// The actions of the file, then those of the flags (flags win by name).
pub fn actions(file: &FileConfig, flags: &[ActionEndpoint]) -> Result<Vec<ActionEndpoint>> {
    let mut out: Vec<ActionEndpoint> = Vec::new();
    for (name, a) in &file.actions {
        let timeout = a
            .timeout
            .as_deref()
            .map(humantime::parse_duration)
            .transpose()
            .with_context(|| format!("actions.{name}.timeout"))?;
        out.push(endpoint(name, &a.url, a.headers.clone(), timeout)?);
    }
    for f in flags {
        out.retain(|a| a.name != f.name);
        out.push(f.clone());
    }
    Ok(out)
}

/// Gleap REST settings from the flags or the file.
pub fn rest(
    api_key: Option<String>,
    project_id: Option<String>,
    base_url: Option<String>,
    file: &FileConfig,
) -> Result<Option<RestConfig>> {
    let from_file = file.gleap_rest.clone();
    let key = api_key.or_else(|| from_file.as_ref().map(|r| r.api_key.clone()));
    let project = project_id.or_else(|| from_file.as_ref().map(|r| r.project_id.clone()));
    let base = base_url
        .or_else(|| from_file.as_ref().and_then(|r| r.base_url.clone()))
        .unwrap_or_else(|| "https://api.gleap.io/v3".into());
    match (key, project) {
        (Some(k), Some(p)) => Ok(Some(RestConfig {
            base_url: base,
            api_key: Secret::new(k),
            project_id: p,
        })),
        (None, None) => Ok(None),
        _ => bail!("Gleap REST needs both an API key and a project id"),
    }
}

/// The Chatwoot settings given as flags (or environment variables).
#[derive(Debug, Clone, Default)]
pub struct ChatwootFlags {
    /// `--chatwoot-url`.
    pub url: Option<String>,
    /// `--chatwoot-bot-token`.
    pub bot_token: Option<String>,
    /// `--chatwoot-secret`.
    pub secret: Option<String>,
    /// `--chatwoot-url-token`.
    pub url_token: Option<String>,
    /// `--chatwoot-window`.
    pub window: Option<Duration>,
    /// `--insecure-no-chatwoot-auth`.
    pub insecure: bool,
}

/// Chatwoot's settings from the flags, else the file's `[chatwoot]` table;
/// `None` when Chatwoot is not bridged. Refuses a URL without a bot token,
/// and events with no way to authenticate them unless told it is insecure.
pub fn chatwoot(flags: ChatwootFlags, file: &FileConfig) -> Result<Option<(Settings, Auth)>> {
    let f = file.chatwoot.clone().unwrap_or_default();
    let url = flags.url.or(f.url);
    let token = flags.bot_token.or(f.bot_token);
    let Some(url) = url else {
        if token.is_some() || flags.secret.is_some() {
            bail!("Chatwoot settings without --chatwoot-url (GLBRIDGE_CHATWOOT_URL)");
        }
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--chatwoot-url must be an http(s) URL, not {url:?}");
    }
    let token = token.context(
        "--chatwoot-bot-token (GLBRIDGE_CHATWOOT_BOT_TOKEN) is required with --chatwoot-url: the agent bot's access token",
    )?;
    let window = match flags.window {
        Some(w) => w,
        None => match &f.window {
            Some(w) => humantime::parse_duration(w).context("chatwoot.window")?,
            None => Duration::from_secs(u64::from(DEFAULT_WINDOW_SECS)),
        },
    };
    let auth = match (flags.secret.or(f.secret), flags.url_token.or(f.url_token)) {
        (Some(secret), _) => Auth::Signature {
            secret: Secret::new(secret),
            window_secs: u32::try_from(window.as_secs()).unwrap_or(u32::MAX),
        },
        (None, Some(t)) if t.len() >= 16 => Auth::UrlToken(Secret::new(t)),
        (None, Some(_)) => bail!("--chatwoot-url-token must be at least 16 characters (a long random token)"),
        (None, None) if flags.insecure || f.insecure.unwrap_or(false) => Auth::Insecure,
        (None, None) => bail!(
            "no Chatwoot secret: set GLBRIDGE_CHATWOOT_SECRET (or --chatwoot-secret) to the agent bot's webhook secret; for an older server that does not sign, give --chatwoot-url-token and put it in the bot URL (?token=...); or pass --insecure-no-chatwoot-auth to accept unauthenticated events"
        ),
    };
    Ok(Some((
        Settings {
            base_url: url,
            bot_token: token,
            teams: f.teams,
        },
        auth,
    )))
}

/// The Zendesk settings given as flags (or environment variables).
#[derive(Debug, Clone, Default)]
pub struct ZendeskFlags {
    /// `--zendesk-url`.
    pub url: Option<String>,
    /// `--zendesk-app-id`.
    pub app_id: Option<String>,
    /// `--zendesk-key-id`.
    pub key_id: Option<String>,
    /// `--zendesk-key-secret`.
    pub key_secret: Option<String>,
    /// `--zendesk-webhook-secret`.
    pub webhook_secret: Option<String>,
    /// `--zendesk-bot-name`.
    pub bot_name: Option<String>,
}

/// Zendesk's settings from the flags, else the file's `[zendesk]` table;
/// `None` when Zendesk is not bridged. Refuses a URL without everything
/// else it needs, saying which setting is missing.
pub fn zendesk(flags: ZendeskFlags, file: &FileConfig) -> Result<Option<ZendeskConfig>> {
    let f = file.zendesk.clone().unwrap_or_default();
    let url = flags.url.or(f.url);
    let given = [
        &flags.app_id,
        &flags.key_id,
        &flags.key_secret,
        &flags.webhook_secret,
        &flags.bot_name,
    ]
    .iter()
    .any(|v| v.is_some());
    let Some(url) = url else {
        if given {
            bail!("Zendesk settings without --zendesk-url (GLBRIDGE_ZENDESK_URL)");
        }
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!(
            "--zendesk-url must be an http(s) URL (e.g. https://acme.zendesk.com/sc), not {url:?}"
        );
    }
    let need = |v: Option<String>, flag: &str, env: &str, what: &str| -> Result<String> {
        v.filter(|v| !v.trim().is_empty())
            .with_context(|| format!("--{flag} ({env}) is required with --zendesk-url: {what}"))
    };
    let app_id = need(
        flags.app_id.or(f.app_id),
        "zendesk-app-id",
        "GLBRIDGE_ZENDESK_APP_ID",
        "the Sunshine Conversations app id",
    )?;
    let key_id = need(
        flags.key_id.or(f.key_id),
        "zendesk-key-id",
        "GLBRIDGE_ZENDESK_KEY_ID",
        "the API key's id",
    )?;
    let key_secret = need(
        flags.key_secret.or(f.key_secret),
        "zendesk-key-secret",
        "GLBRIDGE_ZENDESK_KEY_SECRET",
        "the API key's secret",
    )?;
    let webhook_secret = need(
        flags.webhook_secret.or(f.webhook_secret),
        "zendesk-webhook-secret",
        "GLBRIDGE_ZENDESK_WEBHOOK_SECRET",
        "the webhook's secret, which Zendesk sends as X-API-Key",
    )?;
    let bot_name = need(
        flags.bot_name.or(f.bot_name),
        "zendesk-bot-name",
        "GLBRIDGE_ZENDESK_BOT_NAME",
        "the bot's switchboard integration (its id or name)",
    )?;
    Ok(Some(ZendeskConfig {
        settings: ZendeskSettings {
            base_url: url,
            app_id,
            bot_name,
            targets: f.targets,
            default_target: f
                .default_target
                .unwrap_or_else(|| glbridge_guest::helpdesk::zendesk::AGENT_WORKSPACE.into()),
            ai_subtype: f.ai_subtype.unwrap_or(true),
        },
        key_id,
        key_secret: Secret::new(key_secret),
        webhook_secret: Secret::new(webhook_secret),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zendesk_needs_every_setting_and_says_which_is_missing() {
        let none = FileConfig::default();
        assert!(zendesk(ZendeskFlags::default(), &none).unwrap().is_none());
        let err = zendesk(
            ZendeskFlags {
                app_id: Some("app1".into()),
                ..ZendeskFlags::default()
            },
            &none,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("--zendesk-url"), "{err:#}");
        let mut flags = ZendeskFlags {
            url: Some("https://acme.zendesk.com/sc".into()),
            app_id: Some("app1".into()),
            key_id: Some("key_1".into()),
            key_secret: Some("s".into()),
            webhook_secret: Some("w".into()),
            bot_name: None,
        };
        let err = zendesk(flags.clone(), &none).unwrap_err();
        assert!(format!("{err:#}").contains("--zendesk-bot-name"), "{err:#}");
        flags.bot_name = Some("glbridge".into());
        let z = zendesk(flags, &none).unwrap().unwrap();
        assert_eq!(z.settings.default_target, "zd-agentWorkspace");
        assert!(z.settings.ai_subtype);
        let file: FileConfig = toml::from_str(
            "[zendesk]\nurl = \"https://acme.zendesk.com/sc\"\napp_id = \"app1\"\nkey_id = \"k\"\nkey_secret = \"s\"\nwebhook_secret = \"w\"\nbot_name = \"glbridge\"\nai_subtype = false\ntargets = { billing = \"billing-team\" }\n",
        )
        .unwrap();
        let z = zendesk(ZendeskFlags::default(), &file).unwrap().unwrap();
        assert_eq!(z.settings.targets["billing"], "billing-team");
        assert!(!z.settings.ai_subtype);
    }

    #[test]
    fn chatwoot_needs_a_token_and_a_way_to_authenticate() {
        let none = FileConfig::default();
        assert!(chatwoot(ChatwootFlags::default(), &none).unwrap().is_none());
        let url = |extra: ChatwootFlags| ChatwootFlags {
            url: Some("https://chat.example.com".into()),
            ..extra
        };
        let err = chatwoot(url(ChatwootFlags::default()), &none).unwrap_err();
        assert!(format!("{err:#}").contains("--chatwoot-bot-token"));
        let token = |extra: ChatwootFlags| {
            url(ChatwootFlags {
                bot_token: Some("t".into()),
                ..extra
            })
        };
        let err = chatwoot(token(ChatwootFlags::default()), &none).unwrap_err();
        assert!(format!("{err:#}").contains("no Chatwoot secret"));
        let (_, auth) = chatwoot(
            token(ChatwootFlags {
                secret: Some("s".into()),
                ..Default::default()
            }),
            &none,
        )
        .unwrap()
        .unwrap();
        assert!(matches!(
            auth,
            Auth::Signature {
                window_secs: 300,
                ..
            }
        ));
        assert!(chatwoot(
            token(ChatwootFlags {
                url_token: Some("short".into()),
                ..Default::default()
            }),
            &none
        )
        .is_err());
        let (_, auth) = chatwoot(
            token(ChatwootFlags {
                insecure: true,
                ..Default::default()
            }),
            &none,
        )
        .unwrap()
        .unwrap();
        assert_eq!(auth, Auth::Insecure);
        // From the file, with the team map and a window.
        let file: FileConfig = toml::from_str(
            "[chatwoot]\nurl = \"https://chat.example.com\"\nbot_token = \"t\"\nsecret = \"s\"\nwindow = \"10m\"\nteams = { billing = 4 }\n",
        )
        .unwrap();
        let (settings, auth) = chatwoot(ChatwootFlags::default(), &file).unwrap().unwrap();
        assert_eq!(settings.teams.get("billing"), Some(&4));
        assert!(matches!(
            auth,
            Auth::Signature {
                window_secs: 600,
                ..
            }
        ));
    }

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("2 GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("16K").unwrap(), 16 << 10);
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
    }
}
