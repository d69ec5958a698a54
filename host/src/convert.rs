//! Every conversion between the WIT bindings' types and the guest library's
//! (and the host's) types, in one place.

use glbridge_guest::helpdesk::BridgeConfig;
use glbridge_guest::http::Method;
use glbridge_guest::webhook::WebhookError;

use crate::bindings::{bridge_core, chatwoot, client, gleap, http, types, webhooks, zendesk};
use crate::error::HostError;

/// The WIT form of a client configuration.
pub(crate) fn wit_config(c: &glbridge_guest::Config) -> client::Config {
    client::Config {
        base_url: c.base_url.clone(),
        api_key: c.api_key.expose().to_owned(),
        user_agent: c.user_agent.clone(),
        timeout_ms: c.timeout_ms,
        max_body_bytes: c.max_body_bytes,
        retry: client::RetryPolicy {
            max_attempts: c.retry.max_attempts,
            initial_backoff_ms: c.retry.initial_backoff_ms,
            max_backoff_ms: c.retry.max_backoff_ms,
            max_retry_after_ms: c.retry.max_retry_after_ms,
            jitter_seed: c.retry.jitter_seed,
        },
    }
}

/// A bridge's configuration in WIT form: the core's, and each served
/// helpdesk's, to open and attach in that order.
#[derive(Clone)]
pub(crate) struct WitBridgeConfig {
    pub core: bridge_core::Config,
    pub gleap: Option<gleap::Config>,
    pub chatwoot: Option<chatwoot::Config>,
    pub zendesk: Option<zendesk::Config>,
}

/// The WIT form of a bridge configuration.
pub(crate) fn wit_bridge_config(config: &BridgeConfig) -> WitBridgeConfig {
    let c = &config.core;
    WitBridgeConfig {
        core: bridge_core::Config {
            client: wit_config(&c.client),
            signing_key: c.signing_key.expose().to_owned(),
            actions: c
                .actions
                .iter()
                .map(|a| bridge_core::ActionEndpoint {
                    name: a.name.clone(),
                    url: a.url.clone(),
                    headers: a.headers.clone(),
                    timeout_ms: a.timeout_ms,
                })
                .collect(),
            max_hold_ms: c.max_hold_ms,
            leeway_secs: c.leeway_secs,
        },
        gleap: config.gleap.as_ref().map(|g| gleap::Config {
            gleap_secret: g.gleap_secret.as_ref().map(|s| s.expose().to_owned()),
            reply_wait_ms: g.reply_wait_ms,
            settle_ms: g.settle_ms,
            holding_text: g.holding_text.clone(),
            hand_off_text: g.hand_off_text.clone(),
            rest: g.rest.as_ref().map(|r| gleap::RestConfig {
                base_url: r.base_url.clone(),
                api_key: r.api_key.expose().to_owned(),
                project_id: r.project_id.clone(),
            }),
        }),
        chatwoot: config.chatwoot.as_ref().map(wit_chatwoot_config),
        zendesk: config.zendesk.as_ref().map(wit_zendesk_config),
    }
}

/// The WIT form of the Zendesk adapter's configuration.
fn wit_zendesk_config(
    c: &glbridge_guest::helpdesk::zendesk::adapter::ZendeskConfig,
) -> zendesk::Config {
    let s = &c.settings;
    zendesk::Config {
        base_url: s.base_url.clone(),
        app_id: s.app_id.clone(),
        key_id: c.key_id.clone(),
        key_secret: c.key_secret.expose().to_owned(),
        webhook_secret: c.webhook_secret.expose().to_owned(),
        bot_name: s.bot_name.clone(),
        targets: s
            .targets
            .iter()
            .map(|(t, i)| zendesk::Target {
                target: t.clone(),
                integration: i.clone(),
            })
            .collect(),
        default_target: s.default_target.clone(),
        ai_subtype: s.ai_subtype,
    }
}

/// The WIT form of the Chatwoot adapter's configuration.
fn wit_chatwoot_config(
    c: &glbridge_guest::helpdesk::chatwoot::adapter::ChatwootConfig,
) -> chatwoot::Config {
    use glbridge_guest::helpdesk::chatwoot::adapter::Auth;
    chatwoot::Config {
        settings: chatwoot::Settings {
            base_url: c.settings.base_url.clone(),
            bot_token: c.settings.bot_token.clone(),
            teams: c
                .settings
                .teams
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        },
        auth: match &c.auth {
            Auth::Signature {
                secret,
                window_secs,
            } => chatwoot::Auth::Signature(chatwoot::SignatureAuth {
                secret: secret.expose().to_owned(),
                window_secs: *window_secs,
            }),
            Auth::UrlToken(t) => chatwoot::Auth::UrlToken(t.expose().to_owned()),
            Auth::Insecure => chatwoot::Auth::Insecure,
        },
    }
}

/// The library's form of a request the component built (its `Debug`
/// redacts header values).
pub fn request_from_wit(req: http::Request) -> glbridge_guest::http::HttpRequest {
    glbridge_guest::http::HttpRequest {
        method: method_to_lib(req.method),
        url: req.url,
        headers: req.headers,
        body: req.body,
        timeout_ms: req.timeout_ms,
    }
}

/// The WIT form of the answer to an `http.send`.
pub(crate) fn response_to_wit(
    answer: Result<glbridge_guest::http::HttpResponse, glbridge_guest::http::TransportError>,
) -> Result<http::Response, http::Error> {
    use glbridge_guest::http::TransportError;
    match answer {
        Ok(r) => Ok(http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Err(TransportError::Timeout) => Err(http::Error::Timeout),
        Err(TransportError::Connection(m)) => Err(http::Error::Connection(m)),
        Err(TransportError::InvalidUrl(m)) => Err(http::Error::InvalidUrl(m)),
    }
}

/// The library's form of an HTTP method.
pub(crate) fn method_to_lib(m: http::Method) -> Method {
    match m {
        http::Method::Get => Method::Get,
        http::Method::Post => Method::Post,
        http::Method::Put => Method::Put,
        http::Method::Delete => Method::Delete,
    }
}

impl From<types::Error> for glbridge_guest::Error {
    fn from(e: types::Error) -> Self {
        use glbridge_guest::Error as E;
        match e {
            types::Error::InvalidArgument(a) => E::InvalidArgument {
                field: a.field,
                reason: a.reason,
            },
            types::Error::Api(a) => E::Api(glbridge_guest::ApiError {
                status: a.status,
                code: a.code,
                message: a.message,
                trace_id: a.trace_id,
            }),
            types::Error::Transport(message) => E::Transport { message },
            types::Error::InvalidResponse(message) => E::InvalidResponse { message },
            types::Error::Store(message) => E::Store { message },
        }
    }
}

impl From<types::Error> for HostError {
    fn from(e: types::Error) -> Self {
        HostError::Api(e.into())
    }
}

impl From<webhooks::WebhookError> for HostError {
    fn from(e: webhooks::WebhookError) -> Self {
        HostError::Webhook(match e {
            webhooks::WebhookError::MalformedHeader(m) => WebhookError::MalformedHeader(m),
            webhooks::WebhookError::SignatureMismatch => WebhookError::SignatureMismatch,
            webhooks::WebhookError::TimestampOutOfRange(s) => WebhookError::TimestampOutOfRange(s),
            webhooks::WebhookError::InvalidEnvelope(m) => WebhookError::InvalidEnvelope(m),
        })
    }
}

/// The library's form of a component outcome.
pub fn outcome(o: bridge_core::Outcome) -> glbridge_guest::bridge::Outcome {
    use bridge_core::Outcome as W;
    use glbridge_guest::bridge::Outcome as O;
    match o {
        W::Replied => O::Replied,
        W::Holding => O::Holding,
        W::HandOff => O::HandOff,
        W::Finished => O::Finished,
        W::Unauthorized => O::Unauthorized,
        W::BadRequest => O::BadRequest,
        W::UpstreamError => O::UpstreamError,
        W::Accepted => O::Accepted,
        W::Duplicate => O::Duplicate,
        W::BadSignature => O::BadSignature,
        W::BadEnvelope => O::BadEnvelope,
        W::Action => O::Action,
        W::ActionUnconfigured => O::ActionUnconfigured,
        W::ActionFailed => O::ActionFailed,
        W::StoreError => O::StoreError,
    }
}
