//! The Zendesk adapter (Sunshine Conversations v2, Zendesk messaging): the
//! bot is a custom integration with a webhook, and the switchboard decides
//! who is in control of a conversation.
//!
//! * A delivery is authenticated by its `X-API-Key` (the webhook's secret,
//!   compared in constant time; there is no signature). Its events are
//!   handled in order, each de-duplicated on its id (a retried delivery
//!   repeats them), and what each means for the AI agent is queued in the
//!   same transaction as the conversation's phase and the de-duplication
//!   mark. Only then is the delivery answered: within milliseconds, since
//!   Zendesk gives up after 20 s and never retries a 4xx (the bridge answers
//!   503 when it cannot take a delivery).
//! * The agent's events of `zendesk-*` conversations become Sunshine calls
//!   on the same queue: a reply is posted as the business, a hand-off
//!   passes control to the mapped integration, a finish releases control.
//!   The core's drain makes them in order; the API key is added then
//!   ([`Helpdesk::authorize`]) and never stored. A switchboard action
//!   answered 403 (a human already has the conversation) is dropped with
//!   its reason.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::any::Any;
use subtle::ConstantTimeEq;

use super::event::{self, Kind as EventKind};
use super::plan::{self, Phase, Settings};
use crate::bridge::{outbound, seen, Bridge, Call, Effect, Helpdesk, Io, Kind, Pushed};
use crate::client::Secret;
use crate::env::Store;
use crate::error::{Error, Result};
use crate::http::HttpRequest;
use crate::state::{self, Then};
use crate::time::Timestamp;
use crate::webhook::WebhookEvent;

/// What the Zendesk adapter needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ZendeskConfig {
    /// Where Zendesk is, the app, the bot, the hand-off map.
    pub settings: Settings,
    /// The API key's id (Basic auth user).
    pub key_id: String,
    /// The API key's secret (Basic auth password).
    pub key_secret: Secret,
    /// The webhook's secret: every delivery's `X-API-Key`.
    pub webhook_secret: Secret,
}

pub use crate::bridge::inbound::{Answer, Outcome};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConversationState {
    phase: Phase,
}

const NS: &str = "zendesk";

/// Moves a conversation's phase as `plan` says (given the current one, it
/// gives its result and the next phase); the state is written only when
/// the phase moved.
fn advance<P>(
    store: &dyn Store,
    conversation: &str,
    plan: impl Fn(Phase) -> (P, Phase),
) -> Result<P> {
    state::update_with(
        store,
        &conv_key(conversation),
        ConversationState::default,
        |c: &mut ConversationState| {
            let (result, next) = plan(c.phase);
            if next == c.phase {
                return (result, Then::Keep);
            }
            c.phase = next;
            (result, Then::Write)
        },
    )
}

fn conv_key(c: &str) -> String {
    format!("{NS}/conv/{c}")
}

/// Screens a delivery on a bridge before its body is read: see
/// [`Zendesk::screen_event`]; 404 when the bridge does not serve Zendesk.
pub fn screen_event(bridge: &mut Bridge, api_key: Option<&str>) -> Option<Answer> {
    match bridge.helpdesk::<Zendesk>() {
        Some((_, zendesk)) => zendesk.screen_event(api_key),
        None => Some(not_served()),
    }
}

/// `POST /zendesk/webhook` on a bridge: see [`Zendesk::handle_event`]; 404
/// when the bridge does not serve Zendesk.
pub fn handle_event(bridge: &mut Bridge, io: Io<'_>, api_key: Option<&str>, body: &[u8]) -> Answer {
    match bridge.helpdesk::<Zendesk>() {
        Some((_, zendesk)) => zendesk.handle_event(io, api_key, body),
        None => not_served(),
    }
}

fn not_served() -> Answer {
    Answer::not_served("Zendesk")
}

/// The Zendesk adapter, configured once.
#[derive(Debug, Clone)]
pub struct Zendesk {
    config: ZendeskConfig,
}

impl Zendesk {
    /// The adapter, if the configuration is usable.
    pub fn new(config: ZendeskConfig) -> Result<Self> {
        let s = &config.settings;
        if !(s.base_url.starts_with("https://") || s.base_url.starts_with("http://")) {
            return Err(Error::invalid("zendesk-url", "must be an http(s) URL"));
        }
        for (name, value) in [
            ("zendesk-app-id", s.app_id.as_str()),
            ("zendesk-bot-name", s.bot_name.as_str()),
            ("zendesk-key-id", config.key_id.as_str()),
            ("zendesk-key-secret", config.key_secret.expose()),
            ("zendesk-webhook-secret", config.webhook_secret.expose()),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid(name, "is required"));
            }
        }
        if s.app_id.contains(['-', '/']) {
            return Err(Error::invalid("zendesk-app-id", "has no '-' or '/'"));
        }
        Ok(Zendesk { config })
    }

    /// Before the body is read: 401 unless `X-API-Key` is the webhook's
    /// secret, else `None`.
    pub fn screen_event(&self, api_key: Option<&str>) -> Option<Answer> {
        let given = api_key.unwrap_or("").as_bytes();
        let expected = self.config.webhook_secret.expose().as_bytes();
        if bool::from(given.ct_eq(expected)) {
            return None;
        }
        Some(Answer::new(
            401,
            Outcome::Unauthorized,
            json!({"error": "missing or wrong X-API-Key"}),
        ))
    }

    /// Handles `POST /zendesk/webhook`. Everything it queues is part of this
    /// call's transaction: answered means committed.
    pub fn handle_event(&self, io: Io<'_>, api_key: Option<&str>, body: &[u8]) -> Answer {
        if let Some(refusal) = self.screen_event(api_key) {
            return refusal;
        }
        let (app, events) = match event::parse(body) {
            Ok(d) => d,
            Err(e) => {
                return Answer::new(400, Outcome::BadRequest, json!({"error": e.to_string()}))
            }
        };
        if app != self.config.settings.app_id {
            return Answer::new(
                200,
                Outcome::Ignored,
                json!({"ignored": format!("app {app} is not the configured one")}),
            );
        }
        match self.accept(io.store, io.clock.now(), &app, events) {
            Ok(answer) => answer,
            Err(e) => {
                io.store.rollback();
                Answer::new(503, Outcome::StoreError, json!({"error": e.to_string()}))
            }
        }
    }

    fn accept(
        &self,
        store: &dyn Store,
        now: Timestamp,
        app: &str,
        events: Vec<std::result::Result<event::Event, event::BadDelivery>>,
    ) -> Result<Answer> {
        let total = events.len();
        let (mut queued, mut duplicates) = (0usize, 0usize);
        let mut ignored: Vec<Value> = Vec::new();
        let mut work: Vec<String> = Vec::new();
        for (i, e) in events.into_iter().enumerate() {
            let e = match e {
                Ok(e) => e,
                Err(why) => {
                    ignored.push(json!({"event": i, "why": why.to_string()}));
                    continue;
                }
            };
            if !seen::first_time(store, NS, &format!("{app}/{}", e.id), now)? {
                duplicates += 1;
                continue;
            }
            let settings = &self.config.settings;
            let conversation = match &e.kind {
                EventKind::Message(m) => m.conversation_id.clone(),
                EventKind::PassControl(s) => s.conversation_id.clone(),
                EventKind::ReleaseControl(_) | EventKind::Other(_) => {
                    ignored.push(
                        json!({"event": e.id, "why": format!("{} is not acted on", e.event_type)}),
                    );
                    continue;
                }
            };
            let id = plan::conversation_id(app, &conversation);
            state::lock(store, &conv_key(&id))?;
            let plan = advance(store, &id, |phase| {
                let plan = match &e.kind {
                    EventKind::Message(m) => Some(plan::message_plan(m, phase, settings, now)),
                    EventKind::PassControl(s) => {
                        Some(plan::pass_control_plan(s, phase, settings, now))
                    }
                    EventKind::ReleaseControl(_) | EventKind::Other(_) => None,
                };
                let next = plan.as_ref().map_or(phase, |p| p.phase);
                (plan, next)
            })?;
            let Some(plan) = plan else { continue };
            if let Some(why) = &plan.ignored {
                ignored.push(json!({"event": e.id, "why": why}));
            }
            let calls: Vec<Call> = plan.operations.iter().map(Call::agent).collect();
            if !calls.is_empty() {
                queued += calls.len();
                outbound::append(store, Kind::Zendesk, &id, now, calls)?;
                if !work.contains(&id) {
                    work.push(id.clone());
                }
            }
        }
        let outcome = if total > 0 && duplicates == total {
            Outcome::Duplicate
        } else if queued == 0 && !ignored.is_empty() {
            Outcome::Ignored
        } else {
            Outcome::Accepted
        };
        let mut answer = Answer::new(
            200,
            outcome,
            json!({"events": total, "queued": queued, "duplicates": duplicates, "ignored": ignored}),
        );
        answer.work = work;
        Ok(answer)
    }
}

impl Helpdesk for Zendesk {
    fn kind(&self) -> Kind {
        Kind::Zendesk
    }

    /// Sweeps the de-duplication marks no redelivery can need.
    fn tick(&mut self, io: Io<'_>) -> Result<Pushed> {
        seen::sweep(io.store, NS, io.clock.now())?;
        Ok(Pushed::default())
    }

    /// The Sunshine calls the event means, given the conversation's phase
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
        let delivery = advance(store, &conversation, |phase| {
            let delivery = plan::for_agent_event(event, phase, &self.config.settings);
            let next = delivery.phase;
            (delivery, next)
        })?;
        Ok(Effect::Calls(
            delivery.requests.into_iter().map(Call::http).collect(),
        ))
    }

    /// HTTP Basic with the API key.
    fn authorize(&self, request: &mut HttpRequest) {
        let pair = format!("{}:{}", self.config.key_id, self.config.key_secret.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        request
            .headers
            .push(("Authorization".into(), format!("Basic {encoded}")));
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
