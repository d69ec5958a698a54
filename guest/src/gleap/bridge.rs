//! The bridge between Gleap and the AI agent: what `glbridge serve` does on
//! each Gleap call, each webhook and each tick, with all state in the store.
//!
//! * A Gleap call starts the conversation once, forwards every customer
//!   comment not yet forwarded (message ids derive from comment ids, so a
//!   replayed call never duplicates), and returns [`Turn::Pending`], due at
//!   once: the bridge never waits, and replies leave the outbox only through
//!   [`GleapBridge::collect`], which the host calls once it knows its caller
//!   is still connected. `collect` answers if the agent's turn is over, else
//!   stays pending; the host parks the request until a webhook queues
//!   something for the conversation (the webhook's [`Answer::wake`]) or the
//!   pending `wake_at`, and collects again.
//! * A turn is over when the outbox holds a hand-off or a finish, or the
//!   agent's last message of the turn and the settle window after it has
//!   passed (so a `conversation.finished` that follows a reply by a few
//!   milliseconds goes into the same answer), or the reply wait has passed.
//! * A webhook is verified, de-duplicated and ordered by the sequencer, and
//!   its messages appended to the outbox before it is acknowledged.
//!   `action.execute` is forwarded to the configured endpoint and its JSON
//!   returned.
//! * A tick releases events held too long for a missing predecessor and,
//!   when Gleap REST credentials are configured, pushes replies nobody is
//!   waiting for into the ticket.
//!
//! Nothing leaves the outbox except by being handed to Gleap. A finish or
//! hand-off that arrives after the answer was written stays queued: a hand-off
//! goes out through the REST push when configured, and whatever is left goes
//! into the next answer for that conversation.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use subtle::ConstantTimeEq;

use super::{parse_action, tiptap, ActionCall};
use crate::client::{Client, Config, Secret};
use crate::env::{Clock, Store, Transport};
use crate::error::{Error, Result};
use crate::http::{HttpRequest, Method};
use crate::model::conversations::{AssignParams, MessageParams, StartParams};
use crate::model::{Channel, ParticipantType};
use crate::operation::Operation;
use crate::state::{self, store_error};
use crate::time::Timestamp;
use crate::webhook::event::EventData;
use crate::webhook::sequencer::{Released, Sequencer};
use crate::webhook::{self, WebhookError};

use crate::chatwoot::bridge::{
    self as cw, ChatwootBridge, ChatwootConfig, DrainReport, Outcome as ChatwootOutcome,
};
use crate::chatwoot::plan::chatwoot_ids;
/// Longest an action endpoint may take: under the API's 10 s webhook timeout.
const MAX_ACTION_MS: u32 = 9_000;
/// The default settle window: the API sends a turn's trailing
/// `conversation.finished` or hand-off within milliseconds of its last message.
pub const DEFAULT_SETTLE_MS: u32 = 200;

/// An HTTP endpoint that runs one of the agent's actions. `Debug` shows
/// header names only: their values are often credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionEndpoint {
    /// The action's name, as the agent calls it.
    pub name: String,
    /// Where to POST `{action, params, conversation}`.
    pub url: String,
    /// Extra headers (e.g. credentials), never logged.
    pub headers: Vec<(String, String)>,
    /// Timeout, ms (capped under the webhook timeout).
    pub timeout_ms: u32,
}

impl std::fmt::Debug for ActionEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ActionEndpoint")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Gleap's REST API, for replies that arrive after the Gleap call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestConfig {
    /// e.g. `https://api.gleap.io/v3`.
    pub base_url: String,
    /// API key.
    pub api_key: Secret,
    /// Project id (`Project` header).
    pub project_id: String,
}

/// Everything the bridge needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeConfig {
    /// The AI-agent API client (Integration key).
    pub client: Config,
    /// Webhook signing key.
    pub signing_key: Secret,
    /// Gleap's `Authorization` header value; `None` accepts any call.
    pub gleap_secret: Option<Secret>,
    /// How long a Gleap call waits for the agent, ms.
    pub reply_wait_ms: u32,
    /// How long after the agent's last message of a turn a trailing finish
    /// or hand-off still goes into the same answer, ms.
    pub settle_ms: u32,
    /// Answered when nothing arrived in time.
    pub holding_text: String,
    /// Answered on a hand-off.
    pub hand_off_text: String,
    /// Action endpoints by name.
    pub actions: Vec<ActionEndpoint>,
    /// Gleap REST credentials for late replies.
    pub rest: Option<RestConfig>,
    /// How long an event waits for a missing predecessor, ms.
    pub max_hold_ms: u32,
    /// Webhook signature leeway, s.
    pub leeway_secs: u32,
    /// Chatwoot, when it is bridged too: the agent's events of
    /// `chatwoot-*` conversations go to its queue instead of Gleap's.
    pub chatwoot: Option<ChatwootConfig>,
}

impl BridgeConfig {
    /// Defaults for everything but the client and the keys.
    pub fn new(client: Config, signing_key: impl Into<String>) -> Self {
        BridgeConfig {
            client,
            signing_key: Secret::new(signing_key),
            gleap_secret: None,
            reply_wait_ms: 8_000,
            settle_ms: DEFAULT_SETTLE_MS,
            holding_text:
                "Thanks for your message — I'm looking into it and will reply here shortly.".into(),
            hand_off_text: "I'm passing you to a member of our team, who will reply here shortly."
                .into(),
            actions: Vec::new(),
            rest: None,
            max_hold_ms: 10_000,
            leeway_secs: webhook::DEFAULT_LEEWAY_SECS,
            chatwoot: None,
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
    /// Gleap's `Authorization` header was missing or wrong.
    Unauthorized,
    /// The Gleap call was not usable.
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
    /// Replies added to (positive) or taken from (negative) the outboxes.
    pub queue_change: i32,
    /// Chatwoot conversations whose queue this call added to: drain them.
    pub chatwoot_work: Vec<String>,
}

impl Answer {
    fn new(status: u16, outcome: Outcome, body: Value) -> Self {
        Answer {
            status,
            body,
            outcome,
            wake: Vec::new(),
            queue_change: 0,
            chatwoot_work: Vec::new(),
        }
    }
    fn error(status: u16, outcome: Outcome, message: impl Into<String>) -> Self {
        Answer::new(status, outcome, json!({ "error": message.into() }))
    }
}

/// A Gleap call whose answer is not ready yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The AI-agent conversation it waits on.
    pub conversation: String,
    /// When it stops waiting and answers with what there is.
    pub deadline: Timestamp,
    /// The conversation's last sequenced event number when the call forwarded
    /// the customer's new message (0: nothing new): a finish or hand-off up
    /// to there is delivered but does not end the turn.
    pub after: u64,
    /// Collect again at this time at the latest.
    pub wake_at: Timestamp,
}

/// What a Gleap call comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Write this answer now.
    Answer(Answer),
    /// Park the request, then [`GleapBridge::collect`].
    Pending(Pending),
}

impl Turn {
    /// The answer, if the turn is over.
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Turn::Answer(a) => Some(a),
            Turn::Pending(_) => None,
        }
    }
}

/// What a tick did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TickReport {
    /// Events released after waiting for a gap.
    pub released: u32,
    /// Replies pushed to Gleap's REST API.
    pub pushed: u32,
    /// Pushes that failed (they stay queued).
    pub failed: u32,
    /// Conversations whose outbox grew.
    pub wake: Vec<String>,
    /// Replies added (released) less replies pushed out.
    pub queue_change: i32,
    /// Chatwoot conversations whose queue grew: drain them.
    pub chatwoot_work: Vec<String>,
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

/// Something the agent did, waiting to be handed to Gleap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    /// When it was queued (ns since the epoch).
    pub at: i64,
    /// What it is.
    pub item: OutItem,
}

/// A reply waiting to be handed to Gleap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutItem {
    /// `agent.message`
    Message {
        /// Webhook id.
        event_id: String,
        /// Markdown text.
        body: String,
        /// A holding message.
        holding: bool,
        /// Parts in this reply.
        total: Option<u32>,
        /// This part.
        sequence: Option<u32>,
    },
    /// `conversation.hand_off`
    HandOff {
        /// Webhook id.
        event_id: String,
        /// Target.
        target: Option<String>,
        /// Coded reason.
        reason_code: String,
        /// Reason.
        reason: String,
    },
    /// `conversation.finished`
    Finished {
        /// Webhook id.
        event_id: String,
        /// Coded reason.
        reason_code: Option<String>,
    },
}

impl OutItem {
    /// The agent's last message of a turn (not a holding message, and the
    /// last part of a multi-part reply).
    fn ends_reply(&self) -> bool {
        match self {
            OutItem::Message { holding: true, .. } => false,
            OutItem::Message {
                total, sequence, ..
            } => match (total, sequence) {
                (Some(t), Some(s)) => s >= t,
                _ => true,
            },
            OutItem::HandOff { .. } | OutItem::Finished { .. } => false,
        }
    }

    /// A hand-off or a finish: nothing follows in this turn.
    fn ends_conversation_turn(&self) -> bool {
        matches!(self, OutItem::HandOff { .. } | OutItem::Finished { .. })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConversationState {
    started: bool,
    ticket: String,
}

/// The bridge: one per instance, configured once.
#[derive(Debug, Clone)]
pub struct GleapBridge {
    config: BridgeConfig,
    client: Client,
    sequencer: Sequencer,
    chatwoot: Option<ChatwootBridge>,
}

const NS: &str = "gleap";

/// The conversation's state; also the name locked by calls that forward to
/// it or take from its outbox.
fn conv_key(c: &str) -> String {
    format!("{NS}/conv/{c}")
}
/// The message ids of the conversation's forwarded comments: one set,
/// read once and written once per call.
fn forwarded_key(c: &str) -> String {
    format!("{NS}/forwarded/{c}")
}
/// Where older stores kept one key per forwarded comment (folded into the
/// set on the conversation's next call).
fn legacy_forwarded_prefix(c: &str) -> String {
    format!("{NS}/fwd/{c}/")
}
/// The conversation's outbox: one key per item, `<sequence number>-<event id>`,
/// so items sort in the agent's order.
fn outbox_prefix(c: &str) -> String {
    format!("{NS}/out/{c}/")
}
fn waiting_key(c: &str) -> String {
    format!("{NS}/waiting/{c}")
}
/// What an action's event answered, kept for its redeliveries.
fn action_key(c: &str, event_id: &str) -> String {
    format!("{NS}/action/{c}/{event_id}")
}
/// A conversation that finished in hour `hour` (since the epoch), holding
/// the finish's sequence number: looked at once the hour is
/// [`FORGET_AFTER_NS`] old.
fn ended_key(hour: i64, c: &str) -> String {
    format!("{}{c}", ended_prefix(hour))
}
fn ended_prefix(hour: i64) -> String {
    format!("{NS}/ended/{hour:012}/")
}
/// The first hour whose ended conversations are not looked at yet.
const ENDED_CURSOR: &str = "gleap/ended-cursor";
const HOUR_NS: i64 = 3_600 * 1_000_000_000;

fn hour_of(t: Timestamp) -> i64 {
    t.0.div_euclid(HOUR_NS)
}

/// How long after its finish a conversation's de-duplication state is
/// kept: the API redelivers a webhook for about 24 hours (36 attempts), so
/// 26 hours, after which the sequencer state, the forwarded comments and the
/// action answers of a conversation that stayed finished are deleted.
pub const FORGET_AFTER_NS: i64 = 26 * HOUR_NS;

/// An outbox entry: its key, its stored bytes, and what it holds.
struct Entry {
    key: String,
    position: u64,
    raw: Vec<u8>,
    queued: Queued,
}

fn read_outbox(store: &dyn Store, conversation: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for key in store
        .list_keys(&outbox_prefix(conversation))
        .map_err(store_error)?
    {
        let position = key
            .rsplit('/')
            .next()
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if let (Some(raw), Some(queued)) = state::read::<Queued>(store, &key)? {
            entries.push(Entry {
                key,
                position,
                raw,
                queued,
            });
        }
    }
    Ok(entries)
}

fn ms_to_ns(ms: u32) -> i64 {
    i64::from(ms) * 1_000_000
}

impl GleapBridge {
    /// A bridge, if the configuration is usable.
    pub fn new(config: BridgeConfig) -> Result<Self> {
        let client = Client::open(config.client.clone())?;
        if config.signing_key.expose().is_empty() {
            return Err(Error::invalid("signing_key", "is required"));
        }
        for a in &config.actions {
            if a.name.trim().is_empty()
                || !(a.url.starts_with("http://") || a.url.starts_with("https://"))
            {
                return Err(Error::invalid(
                    "actions",
                    format!("action {:?} needs a name and an http(s) URL", a.name),
                ));
            }
        }
        let sequencer = Sequencer::new(
            format!("{NS}/seq"),
            u64::from(config.max_hold_ms) * 1_000_000,
            1,
        );
        let chatwoot = config
            .chatwoot
            .clone()
            .map(ChatwootBridge::new)
            .transpose()?;
        Ok(GleapBridge {
            config,
            client,
            sequencer,
            chatwoot,
        })
    }

    /// Handles `POST /gleap/action`: forwards what is new, then answers if
    /// the agent's turn is over, or says what to wait for.
    pub fn handle_action(&mut self, io: Io<'_>, authorization: Option<&str>, body: &[u8]) -> Turn {
        if let Some(secret) = &self.config.gleap_secret {
            let given = authorization.unwrap_or("").as_bytes();
            if !bool::from(given.ct_eq(secret.expose().as_bytes())) {
                return Turn::Answer(Answer::error(
                    401,
                    Outcome::Unauthorized,
                    "missing or wrong Authorization header",
                ));
            }
        }
        let call = match parse_action(body) {
            Ok(c) => c,
            Err(e) => return Turn::Answer(Answer::error(400, Outcome::BadRequest, e.0)),
        };
        if let Err(e) = state::lock(io.store, &conv_key(&call.conversation_id)) {
            return Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string()));
        }
        let started = io.clock.now();
        let position = match self
            .sequencer
            .released_up_to(io.store, &call.conversation_id)
        {
            Ok(p) => p,
            Err(e) => return Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string())),
        };
        let after = match self.forward(io, &call) {
            Ok(true) => position,
            Ok(false) => 0,
            Err(e) => {
                return Turn::Answer(Answer::error(
                    502,
                    Outcome::UpstreamError,
                    format!("could not reach the AI agent: {e}"),
                ))
            }
        };
        let deadline = Timestamp(
            started
                .0
                .saturating_add(ms_to_ns(self.config.reply_wait_ms)),
        );
        // Replies leave the outbox only through `collect`, which the host
        // calls once it has seen that its caller is still there: a caller
        // that hung up while its comments were forwarded takes nothing.
        let marker = waiting_key(&call.conversation_id);
        if let Err(e) = state::update::<i64, _>(io.store, &marker, |d| *d = (*d).max(deadline.0)) {
            io.store.rollback();
            return Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string()));
        }
        Turn::Pending(Pending {
            conversation: call.conversation_id,
            deadline,
            after,
            wake_at: io.clock.now(),
        })
    }

    /// Looks again at a pending call: the answer once the agent's turn is
    /// over or the deadline has passed, else still pending.
    pub fn collect(&mut self, io: Io<'_>, pending: &Pending) -> Turn {
        if let Err(e) = state::lock(io.store, &conv_key(&pending.conversation)) {
            return Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string()));
        }
        self.turn(io, &pending.conversation, pending.deadline, pending.after)
    }

    fn turn(&self, io: Io<'_>, conversation: &str, deadline: Timestamp, after: u64) -> Turn {
        match self.try_turn(io, conversation, deadline, after) {
            Ok(t) => t,
            Err(e) => {
                io.store.rollback();
                Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string()))
            }
        }
    }

    /// Decides whether the turn is over; if so takes the outbox into an answer.
    fn try_turn(
        &self,
        io: Io<'_>,
        conversation: &str,
        deadline: Timestamp,
        after: u64,
    ) -> Result<Turn> {
        let entries = read_outbox(io.store, conversation)?;
        let now = io.clock.now().0;
        let this_turn = |e: &&Entry| e.position > after;
        let over = if entries
            .iter()
            .filter(this_turn)
            .any(|e| e.queued.item.ends_conversation_turn())
        {
            None
        } else if let Some(last) = entries
            .iter()
            .filter(this_turn)
            .rev()
            .find(|e| e.queued.item.ends_reply())
        {
            let settled = last
                .queued
                .at
                .saturating_add(ms_to_ns(self.config.settle_ms));
            (now < settled && now < deadline.0).then_some(settled.min(deadline.0))
        } else {
            (now < deadline.0).then_some(deadline.0)
        };
        let marker = waiting_key(conversation);
        if let Some(wake_at) = over {
            state::update::<i64, _>(io.store, &marker, |d| *d = (*d).max(deadline.0))?;
            return Ok(Turn::Pending(Pending {
                conversation: conversation.to_owned(),
                deadline,
                after,
                wake_at: Timestamp(wake_at),
            }));
        }
        for e in &entries {
            state::remove(io.store, &e.key, &e.raw)?;
        }
        state::update_with(io.store, &marker, || 0i64, |_| ((), state::Then::Delete))?;
        let taken = i32::try_from(entries.len()).unwrap_or(i32::MAX);
        let mut answer = self.reply(entries.into_iter().map(|e| e.queued.item).collect());
        answer.queue_change = -taken;
        Ok(Turn::Answer(answer))
    }

    /// Starts the conversation once and forwards new comments; whether it
    /// forwarded any.
    fn forward(&mut self, io: Io<'_>, call: &ActionCall) -> Result<bool> {
        let key = conv_key(&call.conversation_id);
        let state: ConversationState = state::get_or_default(io.store, &key)?;
        if !state.started {
            let start = StartParams {
                id: call.conversation_id.clone(),
                customer_id: call.customer_id.clone(),
                channel: Channel::Web,
                assignee_id: None,
                assignee_type: Some(ParticipantType::AiAgent),
                created: None,
                metadata: Some(json!({"gleap_conversation_id": call.gleap_conversation_id})),
                resources: None,
                conversation_token: None,
                traffic_group_id: None,
                customer_support_platform_identifiers: None,
            };
            self.client
                .run(io.http, io.clock, &Operation::start(&start))?;
            let push =
                Operation::push_resource(&call.conversation_id, "gleap-context", &call.context);
            self.client.run(io.http, io.clock, &push)?;
            let ticket = call.gleap_conversation_id.clone();
            state::update::<ConversationState, _>(io.store, &key, |s| {
                s.started = true;
                s.ticket.clone_from(&ticket);
            })?;
        }
        let set_key = forwarded_key(&call.conversation_id);
        let (raw, set) = state::read::<BTreeSet<String>>(io.store, &set_key)?;
        let mut done = set.unwrap_or_default();
        let mut changed = false;
        if raw.is_none() {
            let prefix = legacy_forwarded_prefix(&call.conversation_id);
            for key in io.store.list_keys(&prefix).map_err(store_error)? {
                if let Some(id) = key.strip_prefix(&prefix) {
                    done.insert(id.to_owned());
                }
                state::delete(io.store, &key)?;
                changed = true;
            }
        }
        // What was forwarded is recorded even when a later comment fails.
        let before = done.len();
        let result = self.forward_new(io, call, &mut done);
        let forwarded = done.len() > before;
        if changed || forwarded {
            let ok = io
                .store
                .compare_and_swap(&set_key, raw.as_deref(), Some(&state::encode(&done)?))
                .map_err(store_error)?;
            if !ok {
                return Err(Error::Store {
                    message: format!("{set_key} changed under its conversation's lock"),
                });
            }
        }
        result.map(|()| forwarded)
    }

    /// Forwards the comments not in `done`, in order, adding each to it.
    fn forward_new(
        &mut self,
        io: Io<'_>,
        call: &ActionCall,
        done: &mut BTreeSet<String>,
    ) -> Result<()> {
        for comment in &call.comments {
            if done.contains(&comment.message_id) {
                continue;
            }
            let op = Operation::add_message(
                &call.conversation_id,
                &MessageParams {
                    id: comment.message_id.clone(),
                    body: comment.text.clone(),
                    participant_id: call.customer_id.clone(),
                    participant_type: ParticipantType::Customer,
                    created: None,
                    subject: None,
                    attachments: Vec::new(),
                    metadata: Some(json!({"gleap_comment_id": comment.comment_id})),
                    conversation_token: None,
                },
            );
            match self.client.run(io.http, io.clock, &op) {
                Err(Error::Api(e)) if e.code == "failed_precondition" => {
                    // The agent finished the conversation; the customer wrote again.
                    let resume = Operation::resume(
                        &call.conversation_id,
                        &AssignParams {
                            assignee_type: ParticipantType::AiAgent,
                            assignee_id: None,
                            timestamp: None,
                            reason: Some("customer wrote again".into()),
                        },
                    );
                    self.client.run(io.http, io.clock, &resume)?;
                    self.client.run(io.http, io.clock, &op)?;
                }
                other => {
                    other?;
                }
            }
            done.insert(comment.message_id.clone());
        }
        Ok(())
    }

    /// The answer for the items a turn took, in queueing order.
    fn reply(&self, items: Vec<OutItem>) -> Answer {
        let mut texts: Vec<String> = Vec::new();
        let mut hand_off: Option<(Option<String>, String, String)> = None;
        // A finish counts for this answer only if no message came after it
        // (one left over from an earlier turn, then resumed, is reported as such).
        let mut finished = false;
        let mut finished_earlier = false;
        for item in items {
            match item {
                OutItem::Message { body, .. } => {
                    if finished {
                        finished = false;
                        finished_earlier = true;
                    }
                    texts.push(body);
                }
                OutItem::HandOff {
                    target,
                    reason_code,
                    reason,
                    ..
                } => hand_off = Some((target, reason_code, reason)),
                OutItem::Finished { .. } => finished = true,
            }
        }
        if let Some((target, reason_code, reason)) = hand_off {
            texts.push(self.config.hand_off_text.clone());
            return Answer::new(
                200,
                Outcome::HandOff,
                json!({
                    "message": texts.join("\n\n"),
                    "tags": ["ai-handoff"],
                    "attributes": {"handoff_target": target, "handoff_reason_code": reason_code, "handoff_reason": reason},
                }),
            );
        }
        let mut body = serde_json::Map::new();
        let message = if texts.is_empty() {
            self.config.holding_text.clone()
        } else {
            texts.join("\n\n")
        };
        body.insert("message".into(), Value::String(message));
        if finished_earlier {
            body.insert("attributes".into(), json!({"earlier_turn_finished": true}));
        }
        if finished {
            body.insert("tags".into(), json!(["ai-finished"]));
            Answer::new(200, Outcome::Finished, Value::Object(body))
        } else if texts.is_empty() {
            Answer::new(200, Outcome::Holding, Value::Object(body))
        } else {
            Answer::new(200, Outcome::Replied, Value::Object(body))
        }
    }

    /// Looks at a webhook's signature header before its body is read: the
    /// answer to send at once when it is missing, malformed or outside the
    /// timestamp window (the body need not be read), else `None`.
    pub fn screen_webhook(&self, io: Io<'_>, signature: Option<&str>) -> Option<Answer> {
        let Some(signature) = signature else {
            return Some(missing_signature());
        };
        webhook::screen(signature, io.clock.now().secs(), self.config.leeway_secs)
            .err()
            .map(|e| Answer::error(401, Outcome::BadSignature, e.to_string()))
    }

    /// Handles `POST /chatwoot/webhook` (404 when Chatwoot is not bridged).
    pub fn handle_chatwoot(
        &self,
        io: Io<'_>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> cw::Answer {
        match &self.chatwoot {
            Some(c) => c.handle_event(io, timestamp, signature, url_token, body),
            None => cw::Answer {
                status: 404,
                body: json!({"error": "Chatwoot is not configured"}),
                outcome: ChatwootOutcome::BadRequest,
                work: Vec::new(),
            },
        }
    }

    /// Makes the due calls queued for a Chatwoot conversation, in order.
    pub fn drain_chatwoot(&mut self, io: Io<'_>, conversation: &str) -> Result<DrainReport> {
        match &mut self.chatwoot {
            Some(c) => c.drain(io, conversation),
            None => Ok(DrainReport::default()),
        }
    }

    /// Chatwoot conversations with calls queued.
    pub fn chatwoot_busy(&self, store: &dyn Store) -> Result<Vec<String>> {
        match &self.chatwoot {
            Some(_) => ChatwootBridge::busy_conversations(store),
            None => Ok(Vec::new()),
        }
    }

    /// Handles `POST /webhooks/gradient-labs`. Everything it queues is part
    /// of this call's transaction: acknowledged means committed.
    pub fn handle_webhook(
        &mut self,
        io: Io<'_>,
        signature: Option<&str>,
        token: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let Some(signature) = signature else {
            return missing_signature();
        };
        let now = io.clock.now();
        let event = match webhook::verify_and_parse(
            self.config.signing_key.expose(),
            signature,
            token,
            body,
            now.secs(),
            self.config.leeway_secs,
        ) {
            Ok(e) => e,
            Err(e @ WebhookError::InvalidEnvelope(_)) => {
                return Answer::error(400, Outcome::BadEnvelope, e.to_string())
            }
            Err(e) => return Answer::error(401, Outcome::BadSignature, e.to_string()),
        };
        let action = match &event.data {
            EventData::ActionExecute(a) => Some(a.clone()),
            _ => None,
        };
        let event_id = event.id.clone();
        let conversation = event.conversation_id.clone();
        let queued = self
            .sequencer
            .offer(io.store, event, now)
            .and_then(|o| Ok((o.duplicate, self.enqueue(io.store, now, o.released)?)));
        let (duplicate, (wake, added, chatwoot_work)) = match queued {
            Ok(q) => q,
            Err(e) => {
                // Not acknowledged, so the API delivers it again: keep nothing.
                io.store.rollback();
                return Answer::error(503, Outcome::StoreError, e.to_string());
            }
        };
        let mut answer = match action {
            Some(a) => self.run_action(
                io,
                &action_key(conversation.as_deref().unwrap_or("-"), &event_id),
                &a,
            ),
            None if duplicate => Answer::new(200, Outcome::Duplicate, json!({})),
            None => Answer::new(200, Outcome::Accepted, json!({})),
        };
        answer.wake = wake;
        answer.queue_change = added;
        answer.chatwoot_work = chatwoot_work;
        answer
    }

    /// Appends released events to their conversations' outboxes; returns
    /// the conversations that got something.
    fn enqueue(
        &self,
        store: &dyn Store,
        now: Timestamp,
        released: Vec<Released>,
    ) -> Result<(Vec<String>, i32, Vec<String>)> {
        let mut woken: Vec<String> = Vec::new();
        let mut added = 0i32;
        let mut chatwoot_work: Vec<String> = Vec::new();
        for r in released {
            let Some(conversation) = r.event.conversation_id.clone() else {
                continue;
            };
            if let Some(chatwoot) = self
                .chatwoot
                .as_ref()
                .filter(|_| chatwoot_ids(&conversation).is_some())
            {
                if chatwoot.enqueue_agent_event(store, now, &r.event)?
                    && !chatwoot_work.contains(&conversation)
                {
                    chatwoot_work.push(conversation);
                }
                continue;
            }
            let id = r.event.id.clone();
            let item = match r.event.data {
                EventData::AgentMessage(m) => OutItem::Message {
                    event_id: id,
                    body: m.body,
                    holding: m.is_holding,
                    total: m.total,
                    sequence: m.sequence,
                },
                EventData::HandOff(h) => OutItem::HandOff {
                    event_id: id,
                    target: h.target,
                    reason_code: h.reason_code,
                    reason: h.reason,
                },
                EventData::Finished(f) => OutItem::Finished {
                    event_id: id,
                    reason_code: f.reason_code,
                },
                _ => continue,
            };
            let key = format!(
                "{}{:020}-{}",
                outbox_prefix(&conversation),
                r.event.sequence_number,
                r.event.id
            );
            if matches!(item, OutItem::Finished { .. }) && r.event.sequence_number > 0 {
                // Its state is forgotten once the API stops redelivering.
                let marker = ended_key(hour_of(now), &conversation);
                state::update::<u64, _>(store, &marker, |n| *n = r.event.sequence_number)?;
            }
            if state::insert_new(store, &key, &Queued { at: now.0, item })? {
                added = added.saturating_add(1);
            }
            if !woken.contains(&conversation) {
                woken.push(conversation);
            }
        }
        Ok((woken, added, chatwoot_work))
    }

    fn run_action(
        &self,
        io: Io<'_>,
        cache: &str,
        action: &webhook::event::ActionExecute,
    ) -> Answer {
        if let Ok((_, Some(done))) = state::read::<Value>(io.store, cache) {
            return Answer::new(200, Outcome::Action, done);
        }
        let Some(endpoint) = self.config.actions.iter().find(|a| a.name == action.action) else {
            return Answer::error(
                404,
                Outcome::ActionUnconfigured,
                format!("no endpoint is configured for action {:?}", action.action),
            );
        };
        let payload = json!({"action": action.action, "params": action.params, "conversation": action.conversation});
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
        ];
        headers.extend(endpoint.headers.iter().cloned());
        let request = HttpRequest {
            method: Method::Post,
            url: endpoint.url.clone(),
            headers,
            body: Some(payload.to_string().into_bytes()),
            timeout_ms: endpoint.timeout_ms.clamp(1, MAX_ACTION_MS),
        };
        match io.http.send(&request) {
            Ok(r) if r.is_success() => {
                let answer = match serde_json::from_slice::<Value>(&r.body) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(other) => json!({ "result": other }),
                    Err(_) => json!({ "result": String::from_utf8_lossy(&r.body) }),
                };
                let _ = state::insert_new(io.store, cache, &answer);
                Answer::new(200, Outcome::Action, answer)
            }
            Ok(r) => Answer::error(
                502,
                Outcome::ActionFailed,
                format!("action endpoint answered {}", r.status),
            ),
            Err(e) => Answer::error(502, Outcome::ActionFailed, format!("action endpoint: {e}")),
        }
    }

    /// Releases held events and pushes replies nobody waits for to Gleap's
    /// REST API (a finish has no REST form: it waits for the next answer).
    pub fn tick(&mut self, io: Io<'_>) -> Result<TickReport> {
        let mut report = TickReport::default();
        let now = io.clock.now();
        let released = self.sequencer.poll(io.store, now)?;
        report.released = u32::try_from(released.len()).unwrap_or(u32::MAX);
        let (wake, added, chatwoot_work) = self.enqueue(io.store, now, released)?;
        report.wake = wake;
        report.queue_change = added;
        report.chatwoot_work = chatwoot_work;
        self.forget_ended(io.store, now)?;
        let Some(rest) = self.config.rest.clone() else {
            return Ok(report);
        };
        let prefix = format!("{NS}/out/");
        let mut conversations: Vec<String> = Vec::new();
        for key in io.store.list_keys(&prefix).map_err(store_error)? {
            let conversation = key
                .strip_prefix(&prefix)
                .and_then(|rest| rest.rsplit_once('/'))
                .map(|(c, _)| c.to_owned());
            if let Some(c) = conversation {
                if conversations.last() != Some(&c) {
                    conversations.push(c);
                }
            }
        }
        for conversation in conversations {
            let (_, waiting) = state::read::<i64>(io.store, &waiting_key(&conversation))?;
            if waiting.is_some_and(|deadline| deadline > now.0) {
                continue;
            }
            state::lock(io.store, &conv_key(&conversation))?;
            let ticket =
                state::get_or_default::<ConversationState>(io.store, &conv_key(&conversation))?
                    .ticket;
            for entry in read_outbox(io.store, &conversation)? {
                let text = match &entry.queued.item {
                    OutItem::Message { body, .. } => body.clone(),
                    OutItem::HandOff { .. } => self.config.hand_off_text.clone(),
                    OutItem::Finished { .. } => continue,
                };
                match push_to_gleap(io, &rest, &ticket, &text) {
                    Ok(()) => {
                        state::remove(io.store, &entry.key, &entry.raw)?;
                        report.pushed += 1;
                        report.queue_change = report.queue_change.saturating_sub(1);
                    }
                    Err(_) => {
                        report.failed += 1;
                        break; // keep the conversation's order: retry next tick
                    }
                }
            }
        }
        Ok(report)
    }

    /// Deletes what is kept of conversations that finished more than
    /// [`FORGET_AFTER_NS`] ago and stayed finished with nothing left to
    /// deliver; one hour of finishes at a time, so a tick looks at no more
    /// than the finishes that came of age.
    fn forget_ended(&self, store: &dyn Store, now: Timestamp) -> Result<()> {
        let due = hour_of(Timestamp(now.0.saturating_sub(FORGET_AFTER_NS)));
        let (_, cursor) = state::read::<i64>(store, ENDED_CURSOR)?;
        // A store without a cursor looks a week back once.
        let mut hour = cursor.unwrap_or(due - 24 * 7);
        if hour > due {
            return Ok(());
        }
        while hour <= due {
            let prefix = ended_prefix(hour);
            for marker in store.list_keys(&prefix).map_err(store_error)? {
                let Some(conversation) = marker.strip_prefix(&prefix) else {
                    continue;
                };
                let (raw, finish) = state::read::<u64>(store, &marker)?;
                let (Some(raw), Some(finish)) = (raw, finish) else {
                    continue;
                };
                state::remove(store, &marker, &raw)?;
                self.forget(store, conversation, finish, now)?;
            }
            hour += 1;
        }
        state::update::<i64, _>(store, ENDED_CURSOR, |c| *c = hour)?;
        Ok(())
    }

    /// Forgets one conversation that finished with event `finish`, unless
    /// it went on after it (then a later finish has its own marker) or its
    /// outbox still holds something (then it is looked at again later).
    fn forget(
        &self,
        store: &dyn Store,
        conversation: &str,
        finish: u64,
        now: Timestamp,
    ) -> Result<()> {
        state::lock(store, &conv_key(conversation))?;
        if self.sequencer.released_up_to(store, conversation)? != finish {
            return Ok(());
        }
        let queued = !store
            .list_keys(&outbox_prefix(conversation))
            .map_err(store_error)?
            .is_empty();
        let (_, waiting) = state::read::<i64>(store, &waiting_key(conversation))?;
        if queued || waiting.is_some() {
            let marker = ended_key(hour_of(now), conversation);
            state::update::<u64, _>(store, &marker, |n| *n = finish)?;
            return Ok(());
        }
        for prefix in [
            legacy_forwarded_prefix(conversation),
            format!("{NS}/action/{conversation}/"),
        ] {
            for key in store.list_keys(&prefix).map_err(store_error)? {
                state::delete(store, &key)?;
            }
        }
        state::delete(store, &forwarded_key(conversation))?;
        state::delete(store, &conv_key(conversation))?;
        self.sequencer.forget(store, conversation)
    }

    /// Replies queued for Gleap across all conversations.
    pub fn queue_depth(&self, store: &dyn Store) -> Result<u64> {
        let keys = store
            .list_keys(&format!("{NS}/out/"))
            .map_err(store_error)?;
        Ok(keys.len() as u64)
    }
}

fn push_to_gleap(io: Io<'_>, rest: &RestConfig, ticket: &str, text: &str) -> Result<()> {
    let body = json!({"ticket": ticket, "comment": tiptap::document(text), "bot": true});
    let request = HttpRequest {
        method: Method::Post,
        url: format!("{}/messages", rest.base_url.trim_end_matches('/')),
        headers: vec![
            (
                "Authorization".into(),
                format!("Bearer {}", rest.api_key.expose()),
            ),
            ("Project".into(), rest.project_id.clone()),
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: Some(body.to_string().into_bytes()),
        timeout_ms: 10_000,
    };
    let r = io.http.send(&request).map_err(|e| Error::Transport {
        message: e.to_string(),
    })?;
    if r.is_success() {
        Ok(())
    } else {
        Err(Error::Api(crate::operation::api_error(&r)))
    }
}
fn missing_signature() -> Answer {
    Answer::error(
        401,
        Outcome::BadSignature,
        "missing X-GradientLabs-Signature",
    )
}
