//! The Gleap adapter: Gleap's custom API action calls the bridge and waits
//! for the agent's answer.
//!
//! * A Gleap call starts the conversation once, forwards every customer
//!   comment not yet forwarded (message ids derive from comment ids, so a
//!   replayed call never duplicates), and returns [`Turn::Pending`], due at
//!   once: the bridge never waits, and replies leave the outbox only through
//!   [`Gleap::collect`], which the host calls once it knows its caller is
//!   still connected. `collect` answers if the agent's turn is over, else
//!   stays pending; the host parks the request until a webhook queues
//!   something for the conversation (the webhook's answer's `wake`) or the
//!   pending `wake_at`, and collects again.
//! * A turn is over when the outbox holds a hand-off or a finish, or the
//!   agent's last message of the turn and the settle window after it has
//!   passed (so a `conversation.finished` that follows a reply by a few
//!   milliseconds goes into the same answer), or the reply wait has passed.
//! * Its tick, when Gleap REST credentials are configured, pushes replies
//!   nobody is waiting for into the ticket.
//!
//! Nothing leaves the outbox except by being handed to Gleap. A finish or
//! hand-off that arrives after the answer was written stays queued: a hand-off
//! goes out through the REST push when configured, and whatever is left goes
//! into the next answer for that conversation.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::any::Any;
use std::collections::BTreeSet;
use subtle::ConstantTimeEq;

use super::{parse_action, tiptap, ActionCall};
use crate::bridge::outbox::{self, OutItem};
use crate::bridge::{Answer, Bridge, Core, Effect, Helpdesk, Io, Outcome, Pushed};
use crate::client::Secret;
use crate::env::Store;
use crate::error::{Error, Result};
use crate::helpdesk::Kind;
use crate::http::{HttpRequest, Method};
use crate::model::conversations::{AssignParams, MessageParams, StartParams};
use crate::model::{Channel, ParticipantType};
use crate::operation::Operation;
use crate::state::{self, store_error};
use crate::time::Timestamp;
use crate::webhook::WebhookEvent;

/// The default settle window: the API sends a turn's trailing
/// `conversation.finished` or hand-off within milliseconds of its last message.
pub const DEFAULT_SETTLE_MS: u32 = 200;

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

/// What the Gleap adapter needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GleapConfig {
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
    /// Gleap REST credentials for late replies.
    pub rest: Option<RestConfig>,
}

impl Default for GleapConfig {
    fn default() -> Self {
        GleapConfig {
            gleap_secret: None,
            reply_wait_ms: 8_000,
            settle_ms: DEFAULT_SETTLE_MS,
            holding_text:
                "Thanks for your message — I'm looking into it and will reply here shortly.".into(),
            hand_off_text: "I'm passing you to a member of our team, who will reply here shortly."
                .into(),
            rest: None,
        }
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
    /// Park the request, then [`Gleap::collect`].
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConversationState {
    started: bool,
    ticket: String,
}

/// The Gleap adapter, configured once.
#[derive(Debug, Clone)]
pub struct Gleap {
    config: GleapConfig,
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
/// The latest deadline of the Gleap calls waiting on the conversation.
fn waiting_key(c: &str) -> String {
    format!("{NS}/waiting/{c}")
}

fn ms_to_ns(ms: u32) -> i64 {
    i64::from(ms) * 1_000_000
}

/// `POST /gleap/action` on a bridge: see [`Gleap::handle_action`]; 404 when
/// the bridge does not serve Gleap.
pub fn handle_action(
    bridge: &mut Bridge,
    io: Io<'_>,
    authorization: Option<&str>,
    body: &[u8],
) -> Turn {
    match bridge.helpdesk::<Gleap>() {
        Some((core, gleap)) => gleap.handle_action(core, io, authorization, body),
        None => Turn::Answer(not_served()),
    }
}

/// Looks again at a pending call on a bridge: see [`Gleap::collect`].
pub fn collect(bridge: &mut Bridge, io: Io<'_>, pending: &Pending) -> Turn {
    match bridge.helpdesk::<Gleap>() {
        Some((core, gleap)) => gleap.collect(core, io, pending),
        None => Turn::Answer(not_served()),
    }
}

fn not_served() -> Answer {
    Answer::error(404, Outcome::BadRequest, "Gleap is not configured")
}

impl Gleap {
    /// The adapter.
    pub fn new(config: GleapConfig) -> Self {
        Gleap { config }
    }

    /// Handles `POST /gleap/action`: forwards what is new, then answers if
    /// the agent's turn is over, or says what to wait for.
    pub fn handle_action(
        &mut self,
        core: &mut Core,
        io: Io<'_>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Turn {
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
        let position = match core.released_up_to(io.store, &call.conversation_id) {
            Ok(p) => p,
            Err(e) => return Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string())),
        };
        let after = match self.forward(core, io, &call) {
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
    pub fn collect(&mut self, _core: &mut Core, io: Io<'_>, pending: &Pending) -> Turn {
        if let Err(e) = state::lock(io.store, &conv_key(&pending.conversation)) {
            return Turn::Answer(Answer::error(503, Outcome::StoreError, e.to_string()));
        }
        match self.try_turn(io, &pending.conversation, pending.deadline, pending.after) {
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
        let entries = outbox::read(io.store, conversation)?;
        let now = io.clock.now().0;
        let this_turn = |e: &&outbox::Entry| e.position > after;
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
    fn forward(&mut self, core: &mut Core, io: Io<'_>, call: &ActionCall) -> Result<bool> {
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
            core.client()
                .run(io.http, io.clock, &Operation::start(&start))?;
            let push =
                Operation::push_resource(&call.conversation_id, "gleap-context", &call.context);
            core.client().run(io.http, io.clock, &push)?;
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
        let result = Self::forward_new(core, io, call, &mut done);
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
        core: &mut Core,
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
            match core.client().run(io.http, io.clock, &op) {
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
                    core.client().run(io.http, io.clock, &resume)?;
                    core.client().run(io.http, io.clock, &op)?;
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
}

impl Helpdesk for Gleap {
    fn kind(&self) -> Kind {
        Kind::Gleap
    }

    /// What the agent did waits in the outbox for the conversation's next
    /// Gleap call (or the REST push).
    fn on_agent_event(
        &mut self,
        _store: &dyn Store,
        _now: Timestamp,
        _event: &WebhookEvent,
    ) -> Result<Effect> {
        Ok(Effect::Outbox)
    }

    /// Pushes replies nobody waits for to Gleap's REST API (a finish has no
    /// REST form: it waits for the next answer).
    fn tick(&mut self, io: Io<'_>) -> Result<Pushed> {
        let mut report = Pushed::default();
        let Some(rest) = self.config.rest.clone() else {
            return Ok(report);
        };
        let now = io.clock.now();
        for conversation in outbox::conversations(io.store)? {
            if Kind::of(&conversation) != Some(Kind::Gleap) {
                continue;
            }
            let (_, waiting) = state::read::<i64>(io.store, &waiting_key(&conversation))?;
            if waiting.is_some_and(|deadline| deadline > now.0) {
                continue;
            }
            state::lock(io.store, &conv_key(&conversation))?;
            let ticket =
                state::get_or_default::<ConversationState>(io.store, &conv_key(&conversation))?
                    .ticket;
            for entry in outbox::read(io.store, &conversation)? {
                let text = match &entry.queued.item {
                    OutItem::Message { body, .. } => body.clone(),
                    OutItem::HandOff { .. } => self.config.hand_off_text.clone(),
                    OutItem::Finished { .. } => continue,
                };
                match push_to_gleap(io, &rest, &ticket, &text) {
                    Ok(()) => {
                        state::remove(io.store, &entry.key, &entry.raw)?;
                        report.pushed += 1;
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

    fn waiting(&self, store: &dyn Store, conversation: &str) -> Result<bool> {
        let (_, waiting) = state::read::<i64>(store, &waiting_key(conversation))?;
        Ok(waiting.is_some())
    }

    fn forget(&self, store: &dyn Store, conversation: &str) -> Result<()> {
        for key in store
            .list_keys(&legacy_forwarded_prefix(conversation))
            .map_err(store_error)?
        {
            state::delete(store, &key)?;
        }
        state::delete(store, &forwarded_key(conversation))?;
        state::delete(store, &conv_key(conversation))?;
        Ok(())
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
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
