//! The Chatwoot adapter: what the bridge does on each Chatwoot event and
//! each AI-agent event of a Chatwoot conversation, with all state in the
//! store; the core's outbound queue makes the calls.
//!
//! * An event is authenticated (signature and window, or the URL token of
//!   an unsigned older server), de-duplicated on its account, event and
//!   message, and planned against the conversation's phase; the AI-agent
//!   calls it means are appended to the conversation's queue in the same
//!   transaction as the phase and the de-duplication mark. Only then is it
//!   answered, within milliseconds: nothing is called while Chatwoot waits.
//! * An AI-agent event of a Chatwoot conversation appends the Chatwoot calls
//!   it means (in the agent's order, already sequenced) to the same queue.
//! * The core's drain ([`crate::bridge::outbound::drain`]) makes them, in
//!   order; the bot token is added when a call is made
//!   ([`Helpdesk::authorize`]) and is never stored.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::any::Any;
use subtle::ConstantTimeEq;

use super::event::Event;
use super::plan::{self, Phase, Settings};
use super::signature;
use crate::bridge::{outbound, seen, Bridge, Call, Effect, Helpdesk, Io, Pushed};
use crate::client::Secret;
use crate::env::Store;
use crate::error::{Error, Result};
use crate::helpdesk::Kind;
use crate::http::HttpRequest;
use crate::state;
use crate::time::Timestamp;
use crate::webhook::WebhookEvent;

/// How events are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `X-Chatwoot-Signature` with the bot's webhook secret (Chatwoot 4.13+).
    Signature {
        /// The secret.
        secret: Secret,
        /// Allowed distance between `X-Chatwoot-Timestamp` and now, s.
        window_secs: u32,
    },
    /// A long random token in the bot URL, for older servers that do not sign.
    UrlToken(Secret),
    /// Nothing: every event is accepted (local development only).
    Insecure,
}

/// What the Chatwoot adapter needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatwootConfig {
    /// Where Chatwoot is and the bot token.
    pub settings: Settings,
    /// How events are authenticated.
    pub auth: Auth,
}

pub use crate::bridge::inbound::{Answer, Outcome};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConversationState {
    phase: Phase,
}

const NS: &str = "chatwoot";

fn conv_key(c: &str) -> String {
    format!("{NS}/conv/{c}")
}

/// `POST /chatwoot/webhook` on a bridge: see [`Chatwoot::handle_event`];
/// 404 when the bridge does not serve Chatwoot.
pub fn handle_event(
    bridge: &mut Bridge,
    io: Io<'_>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    url_token: Option<&str>,
    body: &[u8],
) -> Answer {
    match bridge.helpdesk::<Chatwoot>() {
        Some((_, chatwoot)) => chatwoot.handle_event(io, timestamp, signature, url_token, body),
        None => not_served(),
    }
}

/// Screens a Chatwoot event on a bridge before its body is read: see
/// [`Chatwoot::screen_event`]; 404 when the bridge does not serve Chatwoot.
pub fn screen_event(
    bridge: &mut Bridge,
    io: Io<'_>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    url_token: Option<&str>,
) -> Option<Answer> {
    match bridge.helpdesk::<Chatwoot>() {
        Some((_, chatwoot)) => {
            chatwoot.screen_event(io.clock.now(), timestamp, signature, url_token)
        }
        None => Some(not_served()),
    }
}

fn not_served() -> Answer {
    Answer::not_served("Chatwoot")
}

/// The Chatwoot adapter, configured once.
#[derive(Debug, Clone)]
pub struct Chatwoot {
    config: ChatwootConfig,
}

impl Chatwoot {
    /// The adapter, if the configuration is usable.
    pub fn new(config: ChatwootConfig) -> Result<Self> {
        if config.settings.base_url.trim().is_empty() {
            return Err(Error::invalid("chatwoot-url", "is required"));
        }
        if config.settings.bot_token.trim().is_empty() {
            return Err(Error::invalid("chatwoot-bot-token", "is required"));
        }
        Ok(Chatwoot { config })
    }

    /// Before the body is read: the answer to send at once when the
    /// signature headers are missing, malformed or outside the window, or
    /// the URL token is wrong, else `None`.
    pub fn screen_event(
        &self,
        now: Timestamp,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
    ) -> Option<Answer> {
        let refused = match &self.config.auth {
            Auth::Signature { window_secs, .. } => {
                signature::screen(timestamp, signature, now.secs(), *window_secs)
                    .map_err(|e| e.to_string())
            }
            Auth::UrlToken(_) => self.authenticate(now, None, None, url_token, &[]),
            Auth::Insecure => Ok(()),
        };
        refused
            .err()
            .map(|why| Answer::new(401, Outcome::Unauthorized, json!({"error": why})))
    }

    fn authenticate(
        &self,
        now: Timestamp,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> std::result::Result<(), String> {
        match &self.config.auth {
            Auth::Signature {
                secret,
                window_secs,
            } => signature::verify(
                secret.expose(),
                timestamp,
                signature,
                body,
                now.secs(),
                *window_secs,
            )
            .map_err(|e| e.to_string()),
            Auth::UrlToken(expected) => match url_token {
                Some(got) if bool::from(got.as_bytes().ct_eq(expected.expose().as_bytes())) => {
                    Ok(())
                }
                _ => Err("missing or wrong URL token".into()),
            },
            Auth::Insecure => Ok(()),
        }
    }

    /// Handles `POST /chatwoot/webhook`. Everything it queues is part of
    /// this call's transaction: answered means committed.
    pub fn handle_event(
        &self,
        io: Io<'_>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let now = io.clock.now();
        if let Err(why) = self.authenticate(now, timestamp, signature, url_token, body) {
            return Answer::new(401, Outcome::Unauthorized, json!({"error": why}));
        }
        if serde_json::from_slice::<Value>(body).is_err() {
            return Answer::new(
                400,
                Outcome::BadRequest,
                json!({"error": "body is not JSON"}),
            );
        }
        // Authentic but unreadable: acknowledged, so that Chatwoot does not
        // open the conversation as if the bot had failed.
        let event = match super::event::parse(body) {
            Ok(e) => e,
            Err(e) => return Answer::new(200, Outcome::Ignored, json!({"ignored": e.to_string()})),
        };
        match self.accept(io.store, now, &event) {
            Ok(answer) => answer,
            Err(e) => {
                io.store.rollback();
                Answer::new(503, Outcome::StoreError, json!({"error": e.to_string()}))
            }
        }
    }

    fn accept(&self, store: &dyn Store, now: Timestamp, event: &Event) -> Result<Answer> {
        let Some(conversation) = event.conversation_id() else {
            return Ok(Answer::new(
                200,
                Outcome::Ignored,
                json!({"ignored": "no conversation"}),
            ));
        };
        state::lock(store, &conv_key(&conversation))?;
        if let Some(dedup) = event.dedup_key() {
            if !seen::first_time(store, NS, &dedup, now)? {
                return Ok(Answer::new(
                    200,
                    Outcome::Duplicate,
                    json!({"duplicate": true}),
                ));
            }
        }
        let plan = state::update(
            store,
            &conv_key(&conversation),
            |c: &mut ConversationState| {
                let plan = plan::for_event(event, c.phase, now);
                c.phase = plan.phase;
                plan
            },
        )?;
        let calls: Vec<Call> = plan.operations.iter().map(Call::agent).collect();
        let queued = calls.len();
        outbound::append(store, Kind::Chatwoot, &conversation, now, calls)?;
        let mut answer = match plan.ignored {
            Some(why) => Answer::new(200, Outcome::Ignored, json!({"ignored": why})),
            None => Answer::new(200, Outcome::Accepted, json!({"queued": queued})),
        };
        if queued > 0 {
            answer.work.push(conversation);
        }
        Ok(answer)
    }
}

impl Helpdesk for Chatwoot {
    fn kind(&self) -> Kind {
        Kind::Chatwoot
    }

    /// Sweeps the de-duplication marks no redelivery can need.
    fn tick(&mut self, io: Io<'_>) -> Result<Pushed> {
        seen::sweep(io.store, NS, io.clock.now())?;
        Ok(Pushed::default())
    }

    /// The Chatwoot calls the event means, given the conversation's phase
    /// (which they move on).
    fn on_agent_event(
        &mut self,
        store: &dyn Store,
        _now: Timestamp,
        event: &WebhookEvent,
    ) -> Result<Effect> {
        let Some(conversation) = event.conversation_id.clone() else {
            return Ok(Effect::Calls(Vec::new()));
        };
        state::lock(store, &conv_key(&conversation))?;
        let delivery = state::update(
            store,
            &conv_key(&conversation),
            |c: &mut ConversationState| {
                let delivery = plan::for_agent_event(event, c.phase, &self.config.settings);
                c.phase = delivery.phase;
                delivery
            },
        )?;
        Ok(Effect::Calls(
            delivery.requests.into_iter().map(Call::http).collect(),
        ))
    }

    /// The bot token.
    fn authorize(&self, request: &mut HttpRequest) {
        request.headers.push((
            "api_access_token".into(),
            self.config.settings.bot_token.clone(),
        ));
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
