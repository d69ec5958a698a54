//! The helpdesk-neutral core of the bridge: what every helpdesk shares.
//!
//! * The agent's webhook: screened, verified, de-duplicated and ordered
//!   (the [`Sequencer`]); each event it releases goes to the helpdesk that
//!   owns its conversation ([`Kind::of`]), which says what it means
//!   ([`Effect`]): kept in the conversation's outbox for the helpdesk to
//!   collect, or turned into calls on the outbound queue. Nothing is
//!   acknowledged before it is queued.
//! * `action.execute`: run against the configured endpoint, its answer
//!   kept for redeliveries ([`actions`]).
//! * The per-conversation outbox of what the agent did ([`outbox`]) and the
//!   durable, ordered queue of outbound helpdesk calls with its drain and
//!   back-off ([`outbound`]).
//! * The tick: events held too long for a predecessor are released, each
//!   helpdesk's periodic work runs, and conversations that stayed finished
//!   are forgotten once the API no longer redelivers their events.
//!
//! A helpdesk is an adapter ([`Helpdesk`]) beside the core; the core names
//! none of them (the list is [`Kind`]).

pub mod actions;
pub mod inbound;
mod kind;
pub mod outbound;
pub mod outbox;
pub mod seen;
mod tick;
mod webhook;

use serde_json::{json, Value};
use std::any::Any;

use crate::client::{Client, Config as ClientConfig, Secret};
use crate::env::{Clock, Store, Transport};
use crate::error::{Error, Result};
use crate::http::HttpRequest;
use crate::time::Timestamp;
use crate::webhook::sequencer::Sequencer;
use crate::webhook::WebhookEvent;

pub use actions::ActionEndpoint;
pub use kind::Kind;
pub use outbound::{Call, DrainReport};
pub use outbox::OutItem;
pub use tick::{TickReport, FORGET_AFTER_NS};

/// The prefix of the core's keys in the store. Older releases, where the
/// bridge was the Gleap adapter, wrote them under this name; it is kept so
/// that a store carries over.
pub(crate) const NS: &str = "gleap";

/// What the core needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The AI-agent API client (Integration key).
    pub client: ClientConfig,
    /// Webhook signing key.
    pub signing_key: Secret,
    /// Action endpoints by name.
    pub actions: Vec<ActionEndpoint>,
    /// How long an event waits for a missing predecessor, ms.
    pub max_hold_ms: u32,
    /// Webhook signature leeway, s.
    pub leeway_secs: u32,
}

impl Config {
    /// Defaults for everything but the client and the signing key.
    pub fn new(client: ClientConfig, signing_key: impl Into<String>) -> Self {
        Config {
            client,
            signing_key: Secret::new(signing_key),
            actions: Vec::new(),
            max_hold_ms: 10_000,
            leeway_secs: crate::webhook::DEFAULT_LEEWAY_SECS,
        }
    }
}

/// What happened on a call, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The agent's reply.
    Replied,
    /// Nothing arrived in time: the holding text.
    Holding,
    /// The agent handed off.
    HandOff,
    /// The agent finished.
    Finished,
    /// The helpdesk's credentials were missing or wrong.
    Unauthorized,
    /// The helpdesk's call was not usable.
    BadRequest,
    /// The AI-agent API could not be reached or refused.
    UpstreamError,
    /// A webhook was accepted.
    Accepted,
    /// A webhook had been accepted before.
    Duplicate,
    /// A webhook's signature was missing, wrong or stale.
    BadSignature,
    /// A signed webhook was not an event envelope.
    BadEnvelope,
    /// An action ran.
    Action,
    /// An action has no endpoint.
    ActionUnconfigured,
    /// An action endpoint failed.
    ActionFailed,
    /// The store failed; nothing was acknowledged.
    StoreError,
}

impl Outcome {
    /// The kebab-case name used in metrics and in the WIT.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Replied => "replied",
            Outcome::Holding => "holding",
            Outcome::HandOff => "hand-off",
            Outcome::Finished => "finished",
            Outcome::Unauthorized => "unauthorized",
            Outcome::BadRequest => "bad-request",
            Outcome::UpstreamError => "upstream-error",
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::BadSignature => "bad-signature",
            Outcome::BadEnvelope => "bad-envelope",
            Outcome::Action => "action",
            Outcome::ActionUnconfigured => "action-unconfigured",
            Outcome::ActionFailed => "action-failed",
            Outcome::StoreError => "store-error",
        }
    }
}

/// An HTTP answer for the host to write, and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Conversations whose outbox this call added to: wake their pending calls.
    pub wake: Vec<String>,
    /// Items added to (positive) or taken from (negative) the outboxes.
    pub queue_change: i32,
    /// Conversations whose outbound queue this call added to: drain them.
    pub work: Vec<String>,
}

impl Answer {
    /// An answer that changed no queue.
    pub fn new(status: u16, outcome: Outcome, body: Value) -> Self {
        Answer {
            status,
            body,
            outcome,
            wake: Vec::new(),
            queue_change: 0,
            work: Vec::new(),
        }
    }

    /// An error answer: `{"error": message}`.
    pub fn error(status: u16, outcome: Outcome, message: impl Into<String>) -> Self {
        Answer::new(status, outcome, json!({ "error": message.into() }))
    }
}

/// The imports one call runs with.
#[derive(Clone, Copy)]
pub struct Io<'a> {
    /// HTTP.
    pub http: &'a dyn Transport,
    /// Time.
    pub clock: &'a dyn Clock,
    /// State.
    pub store: &'a dyn Store,
}

/// What an agent event of a helpdesk's conversation means for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Keep what the agent did in the conversation's outbox, for the
    /// helpdesk to collect (a helpdesk that calls the bridge and waits).
    Outbox,
    /// Make these calls, in order, after the ones already queued for the
    /// conversation (a helpdesk the bridge calls).
    Calls(Vec<Call>),
}

/// What a helpdesk's periodic work did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Outbox items handed to the helpdesk.
    pub pushed: u32,
    /// Attempts that failed (the items stay).
    pub failed: u32,
}

/// One helpdesk, as the core sees it. Its inbound routes and its own
/// records are its own; these are the points where the core hands over.
pub trait Helpdesk: Any + std::fmt::Debug {
    /// Which helpdesk it is: its conversations are those whose id
    /// [`Kind::of`] names it.
    fn kind(&self) -> Kind;

    /// The name that serializes the calls about one of its conversations
    /// (its conversation state's key).
    fn conversation_key(&self, conversation: &str) -> String {
        format!("{}/conv/{conversation}", self.kind().name())
    }

    /// An agent event of one of its conversations, in the conversation's
    /// order, inside the webhook's transaction: what it means.
    fn on_agent_event(
        &mut self,
        store: &dyn Store,
        now: Timestamp,
        event: &WebhookEvent,
    ) -> Result<Effect>;

    /// Adds what a queued call needs to be made (credentials, which are
    /// never stored).
    fn authorize(&self, _request: &mut HttpRequest) {}

    /// Periodic work (about once a second).
    fn tick(&mut self, _io: Io<'_>) -> Result<Pushed> {
        Ok(Pushed::default())
    }

    /// Whether a call of its own still waits on the conversation (then
    /// the conversation is not forgotten yet).
    fn waiting(&self, _store: &dyn Store, _conversation: &str) -> Result<bool> {
        Ok(false)
    }

    /// Deletes what it keeps of a conversation that stayed finished.
    fn forget(&self, _store: &dyn Store, _conversation: &str) -> Result<()> {
        Ok(())
    }

    /// For [`Bridge::helpdesk`].
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// What the core holds for every helpdesk: its configuration, the API
/// client and the sequencer.
#[derive(Debug, Clone)]
pub struct Core {
    config: Config,
    client: Client,
    /// One attempt per call: the outbound queue retries on its own schedule.
    queue_client: Client,
    sequencer: Sequencer,
}

impl Core {
    /// The AI-agent API client.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The number of the conversation's last event released in order.
    pub fn released_up_to(&self, store: &dyn Store, conversation: &str) -> Result<u64> {
        self.sequencer.released_up_to(store, conversation)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The bridge: the core and the helpdesks it serves, configured once.
#[derive(Debug)]
pub struct Bridge {
    core: Core,
    helpdesks: Vec<Box<dyn Helpdesk>>,
}

impl Bridge {
    /// A bridge with no helpdesk yet, if the configuration is usable.
    pub fn new(config: Config) -> Result<Self> {
        let client = Client::open(config.client.clone())?;
        let mut once = config.client.clone();
        once.retry.max_attempts = 1;
        let queue_client = Client::open(once)?;
        if config.signing_key.expose().is_empty() {
            return Err(Error::invalid("signing_key", "is required"));
        }
        for a in &config.actions {
            a.validate()?;
        }
        let sequencer = Sequencer::new(
            format!("{NS}/seq"),
            u64::from(config.max_hold_ms) * 1_000_000,
            1,
        );
        Ok(Bridge {
            core: Core {
                config,
                client,
                queue_client,
                sequencer,
            },
            helpdesks: Vec::new(),
        })
    }

    /// Serves a helpdesk too (one of each kind: a second replaces the first).
    pub fn add(&mut self, helpdesk: Box<dyn Helpdesk>) {
        self.helpdesks.retain(|h| h.kind() != helpdesk.kind());
        self.helpdesks.push(helpdesk);
    }

    /// [`Bridge::add`], by value.
    pub fn with(mut self, helpdesk: impl Helpdesk) -> Self {
        self.add(Box::new(helpdesk));
        self
    }

    /// The core and the helpdesk of type `H`, for that helpdesk's routes.
    pub fn helpdesk<H: Helpdesk>(&mut self) -> Option<(&mut Core, &mut H)> {
        let core = &mut self.core;
        self.helpdesks
            .iter_mut()
            .find_map(|h| h.as_any_mut().downcast_mut::<H>())
            .map(|h| (core, h))
    }

    /// The helpdesk that owns `conversation`, if it is served.
    fn owner(&mut self, conversation: &str) -> Option<&mut dyn Helpdesk> {
        let at = self.owner_at(conversation)?;
        self.helpdesks.get_mut(at).map(|h| &mut **h)
    }

    /// [`Bridge::owner`], to read.
    fn owner_ref(&self, conversation: &str) -> Option<&dyn Helpdesk> {
        let at = self.owner_at(conversation)?;
        self.helpdesks.get(at).map(|h| &**h)
    }

    /// Where the owner of `conversation` is among the served helpdesks.
    fn owner_at(&self, conversation: &str) -> Option<usize> {
        let kind = Kind::of(conversation)?;
        self.helpdesks.iter().position(|h| h.kind() == kind)
    }

    /// Makes the due calls queued for a conversation: the one at its head
    /// (see [`outbound::drain`]).
    pub fn drain(&mut self, io: Io<'_>, conversation: &str) -> Result<DrainReport> {
        let Some(helpdesk) = self
            .owner_at(conversation)
            .and_then(|at| self.helpdesks.get(at))
        else {
            return Ok(DrainReport::default());
        };
        outbound::drain(&mut self.core.queue_client, &**helpdesk, io, conversation)
    }

    /// Conversations with outbound calls queued, of every helpdesk served
    /// (to drain after a restart).
    pub fn busy(&self, store: &dyn Store) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for h in &self.helpdesks {
            out.extend(outbound::busy(store, h.kind())?);
        }
        Ok(out)
    }

    /// Items waiting in the outboxes, across all conversations.
    pub fn queue_depth(&self, store: &dyn Store) -> Result<u64> {
        outbox::depth(store)
    }
}
