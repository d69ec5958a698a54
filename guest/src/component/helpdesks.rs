//! The `bridge` world's exports: the helpdesk-neutral `bridge-core`, and the
//! Gleap, Chatwoot and Zendesk adapters that attach to it.

use std::cell::RefCell;

use super::api::config;
use super::api::request_to_wit;
use super::gradient_labs::bridge::store as wstore;
use super::webhooks::now_secs;
use super::{clock, error, json_out, wt, Component, Imports};
use crate::env::{Store, StoreError};
use crate::time::Timestamp;
use crate::webhook;

fn store_error(e: wstore::Error) -> StoreError {
    match e {
        wstore::Error::Unavailable(m) => StoreError(m),
        wstore::Error::LockTimeout(m) => StoreError(format!("lock timeout: {m}")),
    }
}

impl Store for Imports {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        wstore::get(key).map_err(store_error)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        wstore::compare_and_swap(key, expected, new).map_err(store_error)
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        wstore::list_keys(prefix).map_err(store_error)
    }
    fn lock(&self, name: &str) -> Result<(), StoreError> {
        wstore::lock(name).map_err(store_error)
    }
    fn rollback(&self) {
        wstore::rollback()
    }
}

// ---------------------------------------------------------------- bridge

use super::exports::gradient_labs::bridge::bridge_core as wbridge;
use crate::bridge as core;

fn core_config(c: wbridge::Config) -> core::Config {
    core::Config {
        client: config(c.client),
        signing_key: crate::client::Secret::new(c.signing_key),
        actions: c
            .actions
            .into_iter()
            .map(|a| core::ActionEndpoint {
                name: a.name,
                url: a.url,
                headers: a.headers,
                timeout_ms: a.timeout_ms,
            })
            .collect(),
        max_hold_ms: c.max_hold_ms,
        leeway_secs: c.leeway_secs,
    }
}

fn outcome_out(o: core::Outcome) -> wbridge::Outcome {
    use core::Outcome as O;
    use wbridge::Outcome as W;
    match o {
        O::Replied => W::Replied,
        O::Holding => W::Holding,
        O::HandOff => W::HandOff,
        O::Finished => W::Finished,
        O::Unauthorized => W::Unauthorized,
        O::BadRequest => W::BadRequest,
        O::UpstreamError => W::UpstreamError,
        O::Accepted => W::Accepted,
        O::Duplicate => W::Duplicate,
        O::BadSignature => W::BadSignature,
        O::BadEnvelope => W::BadEnvelope,
        O::Action => W::Action,
        O::ActionUnconfigured => W::ActionUnconfigured,
        O::ActionFailed => W::ActionFailed,
        O::StoreError => W::StoreError,
    }
}

fn answer_out(a: core::Answer) -> wbridge::Answer {
    wbridge::Answer {
        status: a.status,
        body: json_out(&a.body),
        outcome: outcome_out(a.outcome),
        wake: a.wake,
        queue_change: a.queue_change,
        work: a.work,
    }
}

const IO: core::Io<'static> = core::Io {
    http: &Imports,
    clock: &Imports,
    store: &Imports,
};

fn inbound_answer_out(a: core::inbound::Answer) -> wbridge::InboundAnswer {
    use core::inbound::Outcome as O;
    use wbridge::InboundOutcome as W;
    wbridge::InboundAnswer {
        status: a.status,
        body: json_out(&a.body),
        outcome: match a.outcome {
            O::Accepted => W::Accepted,
            O::Duplicate => W::Duplicate,
            O::Ignored => W::Ignored,
            O::Unauthorized => W::Unauthorized,
            O::BadRequest => W::BadRequest,
            O::StoreError => W::StoreError,
        },
        work: a.work,
    }
}

/// The exported `bridge.bridge` resource.
pub struct BridgeResource(RefCell<core::Bridge>);

impl BridgeResource {
    /// Runs `f` on the bridge a borrowed handle names.
    fn with<R>(b: wbridge::BridgeBorrow<'_>, f: impl FnOnce(&mut core::Bridge) -> R) -> R {
        f(&mut b.get::<BridgeResource>().0.borrow_mut())
    }
}

impl wbridge::Guest for Component {
    type Bridge = BridgeResource;
}

impl wbridge::GuestBridge for BridgeResource {
    fn open(c: wbridge::Config) -> Result<wbridge::Bridge, wt::Error> {
        let bridge = core::Bridge::new(core_config(c)).map_err(error)?;
        Ok(wbridge::Bridge::new(BridgeResource(RefCell::new(bridge))))
    }

    fn screen_webhook(&self, signature: Option<String>) -> Option<wbridge::Answer> {
        self.0
            .borrow()
            .screen_webhook(IO, signature.as_deref())
            .map(answer_out)
    }

    fn handle_webhook(
        &self,
        signature: Option<String>,
        token: Option<String>,
        body: Vec<u8>,
    ) -> wbridge::Answer {
        answer_out(self.0.borrow_mut().handle_webhook(
            IO,
            signature.as_deref(),
            token.as_deref(),
            &body,
        ))
    }

    fn tick(&self) -> Result<wbridge::TickReport, wt::Error> {
        let r = self.0.borrow_mut().tick(IO).map_err(error)?;
        Ok(wbridge::TickReport {
            released: r.released,
            pushed: r.pushed,
            failed: r.failed,
            wake: r.wake,
            queue_change: r.queue_change,
            work: r.work,
        })
    }

    fn queue_depth(&self) -> Result<u64, wt::Error> {
        self.0.borrow().queue_depth(&Imports).map_err(error)
    }

    fn drain(&self, conversation: String) -> Result<wbridge::DrainReport, wt::Error> {
        let r = self
            .0
            .borrow_mut()
            .drain(IO, &conversation)
            .map_err(error)?;
        Ok(wbridge::DrainReport {
            done: r.done,
            dropped: r.dropped,
            retry_at: r.retry_at.map(|t| t.0),
            left: r.left,
        })
    }

    fn busy(&self) -> Result<Vec<String>, wt::Error> {
        self.0.borrow().busy(&Imports).map_err(error)
    }
}

// ---------------------------------------------------------------- gleap

use super::exports::gradient_labs::bridge::gleap as wgleap;
use crate::helpdesk::gleap::adapter as gb;

fn gleap_config(c: wgleap::Config) -> gb::GleapConfig {
    gb::GleapConfig {
        gleap_secret: c.gleap_secret.map(crate::client::Secret::new),
        reply_wait_ms: c.reply_wait_ms,
        settle_ms: c.settle_ms,
        holding_text: c.holding_text,
        hand_off_text: c.hand_off_text,
        rest: c.rest.map(|r| gb::RestConfig {
            base_url: r.base_url,
            api_key: crate::client::Secret::new(r.api_key),
            project_id: r.project_id,
        }),
    }
}

fn turn_out(t: gb::Turn) -> wgleap::Turn {
    match t {
        gb::Turn::Answer(a) => wgleap::Turn::Answer(answer_out(a)),
        gb::Turn::Pending(p) => wgleap::Turn::Pending(wgleap::Pending {
            conversation: p.conversation,
            deadline: p.deadline.0,
            after: p.after,
            wake_at: p.wake_at.0,
        }),
    }
}

impl wgleap::Guest for Component {
    fn serve(bridge: wbridge::BridgeBorrow<'_>, config: wgleap::Config) -> Result<(), wt::Error> {
        let gleap = gb::Gleap::new(gleap_config(config));
        BridgeResource::with(bridge, |b| b.add(Box::new(gleap)));
        Ok(())
    }

    fn handle_action(
        bridge: wbridge::BridgeBorrow<'_>,
        authorization: Option<String>,
        body: Vec<u8>,
    ) -> wgleap::Turn {
        turn_out(BridgeResource::with(bridge, |b| {
            gb::handle_action(b, IO, authorization.as_deref(), &body)
        }))
    }

    fn collect(bridge: wbridge::BridgeBorrow<'_>, p: wgleap::Pending) -> wgleap::Turn {
        let pending = gb::Pending {
            conversation: p.conversation,
            deadline: Timestamp(p.deadline),
            after: p.after,
            wake_at: Timestamp(p.wake_at),
        };
        turn_out(BridgeResource::with(bridge, |b| {
            gb::collect(b, IO, &pending)
        }))
    }
}

// ---------------------------------------------------------------- chatwoot

use super::exports::gradient_labs::bridge::chatwoot as wcw;
use crate::helpdesk::chatwoot as cw;

fn phase_in(p: wcw::Phase) -> cw::Phase {
    match p {
        wcw::Phase::New => cw::Phase::New,
        wcw::Phase::Agent => cw::Phase::Agent,
        wcw::Phase::HandedOff => cw::Phase::HandedOff,
        wcw::Phase::Human => cw::Phase::Human,
        wcw::Phase::Finished => cw::Phase::Finished,
    }
}

fn phase_out(p: cw::Phase) -> wcw::Phase {
    match p {
        cw::Phase::New => wcw::Phase::New,
        cw::Phase::Agent => wcw::Phase::Agent,
        cw::Phase::HandedOff => wcw::Phase::HandedOff,
        cw::Phase::Human => wcw::Phase::Human,
        cw::Phase::Finished => wcw::Phase::Finished,
    }
}

fn signature_error(e: cw::SignatureError) -> wcw::EventError {
    match e {
        cw::SignatureError::Mismatch => wcw::EventError::SignatureMismatch,
        cw::SignatureError::Stale(skew) => wcw::EventError::Stale(skew),
        other => wcw::EventError::BadHeader(other.to_string()),
    }
}

fn bad_event(e: impl std::fmt::Display) -> wcw::EventError {
    wcw::EventError::BadEvent(e.to_string())
}

fn chatwoot_config(c: wcw::Config) -> cw::adapter::ChatwootConfig {
    use cw::adapter::Auth;
    cw::adapter::ChatwootConfig {
        settings: settings_in(c.settings),
        auth: match c.auth {
            wcw::Auth::Signature(s) => Auth::Signature {
                secret: crate::client::Secret::new(s.secret),
                window_secs: s.window_secs,
            },
            wcw::Auth::UrlToken(t) => Auth::UrlToken(crate::client::Secret::new(t)),
            wcw::Auth::Insecure => Auth::Insecure,
        },
    }
}

fn settings_in(s: wcw::Settings) -> cw::Settings {
    cw::Settings {
        base_url: s.base_url,
        bot_token: s.bot_token,
        teams: s.teams.into_iter().collect(),
    }
}

fn window(w: Option<u32>) -> u32 {
    w.unwrap_or(cw::DEFAULT_WINDOW_SECS)
}

impl wcw::Guest for Component {
    fn serve(bridge: wbridge::BridgeBorrow<'_>, config: wcw::Config) -> Result<(), wt::Error> {
        let chatwoot = cw::adapter::Chatwoot::new(chatwoot_config(config)).map_err(error)?;
        BridgeResource::with(bridge, |b| b.add(Box::new(chatwoot)));
        Ok(())
    }

    fn screen_event(
        bridge: wbridge::BridgeBorrow<'_>,
        timestamp: Option<String>,
        signature: Option<String>,
        url_token: Option<String>,
    ) -> Option<wbridge::InboundAnswer> {
        BridgeResource::with(bridge, |b| {
            cw::adapter::screen_event(
                b,
                IO,
                timestamp.as_deref(),
                signature.as_deref(),
                url_token.as_deref(),
            )
        })
        .map(inbound_answer_out)
    }

    fn handle_event(
        bridge: wbridge::BridgeBorrow<'_>,
        timestamp: Option<String>,
        signature: Option<String>,
        url_token: Option<String>,
        body: Vec<u8>,
    ) -> wbridge::InboundAnswer {
        inbound_answer_out(BridgeResource::with(bridge, |b| {
            cw::adapter::handle_event(
                b,
                IO,
                timestamp.as_deref(),
                signature.as_deref(),
                url_token.as_deref(),
                &body,
            )
        }))
    }

    fn sign(secret: String, timestamp_secs: i64, body: Vec<u8>) -> String {
        cw::sign(&secret, timestamp_secs, &body)
    }

    fn screen(
        timestamp: Option<String>,
        signature: Option<String>,
        now: Option<i64>,
        window_secs: Option<u32>,
    ) -> Result<(), wcw::EventError> {
        cw::screen(
            timestamp.as_deref(),
            signature.as_deref(),
            now_secs(now),
            window(window_secs),
        )
        .map_err(signature_error)
    }

    fn verify(
        secret: String,
        timestamp: Option<String>,
        signature: Option<String>,
        body: Vec<u8>,
        now: Option<i64>,
        window_secs: Option<u32>,
    ) -> Result<(), wcw::EventError> {
        cw::verify(
            &secret,
            timestamp.as_deref(),
            signature.as_deref(),
            &body,
            now_secs(now),
            window(window_secs),
        )
        .map_err(signature_error)
    }

    fn about(body: Vec<u8>) -> Result<wcw::Subject, wcw::EventError> {
        let event = cw::parse(&body).map_err(bad_event)?;
        Ok(wcw::Subject {
            conversation: event.conversation_id(),
            dedup_key: event.dedup_key(),
        })
    }

    fn plan_event(
        body: Vec<u8>,
        phase: wcw::Phase,
        now: Option<i64>,
    ) -> Result<wcw::Plan, wcw::EventError> {
        let event = cw::parse(&body).map_err(bad_event)?;
        let now = Timestamp(now.unwrap_or_else(clock::now));
        let plan = cw::for_event(&event, phase_in(phase), now);
        let calls = plan
            .operations
            .iter()
            .map(|op| wcw::AgentCall {
                operation: op.name().to_owned(),
                params: op.params_json().to_string(),
            })
            .collect();
        Ok(wcw::Plan {
            calls,
            phase: phase_out(plan.phase),
            ignored: plan.ignored,
        })
    }

    fn deliver_agent_event(
        settings: wcw::Settings,
        event: Vec<u8>,
        phase: wcw::Phase,
    ) -> Result<wcw::Delivery, wcw::EventError> {
        let event = webhook::parse(&event, None).map_err(bad_event)?;
        let settings = settings_in(settings);
        let d = cw::for_agent_event(&event, phase_in(phase), &settings);
        Ok(wcw::Delivery {
            requests: d.requests.into_iter().map(request_to_wit).collect(),
            phase: phase_out(d.phase),
            ignored: d.ignored,
        })
    }
}

// ---------------------------------------------------------------- zendesk

use super::exports::gradient_labs::bridge::zendesk as wzd;
use crate::helpdesk::zendesk as zd;

fn zendesk_config(c: wzd::Config) -> zd::adapter::ZendeskConfig {
    zd::adapter::ZendeskConfig {
        settings: zd::Settings {
            base_url: c.base_url,
            app_id: c.app_id,
            bot_name: c.bot_name,
            targets: c
                .targets
                .into_iter()
                .map(|t| (t.target, t.integration))
                .collect(),
            default_target: c.default_target,
            ai_subtype: c.ai_subtype,
        },
        key_id: c.key_id,
        key_secret: crate::client::Secret::new(c.key_secret),
        webhook_secret: crate::client::Secret::new(c.webhook_secret),
    }
}

impl wzd::Guest for Component {
    fn serve(bridge: wbridge::BridgeBorrow<'_>, config: wzd::Config) -> Result<(), wt::Error> {
        let zendesk = zd::adapter::Zendesk::new(zendesk_config(config)).map_err(error)?;
        BridgeResource::with(bridge, |b| b.add(Box::new(zendesk)));
        Ok(())
    }

    fn screen_event(
        bridge: wbridge::BridgeBorrow<'_>,
        api_key: Option<String>,
    ) -> Option<wbridge::InboundAnswer> {
        BridgeResource::with(bridge, |b| zd::adapter::screen_event(b, api_key.as_deref()))
            .map(inbound_answer_out)
    }

    fn handle_event(
        bridge: wbridge::BridgeBorrow<'_>,
        api_key: Option<String>,
        body: Vec<u8>,
    ) -> wbridge::InboundAnswer {
        inbound_answer_out(BridgeResource::with(bridge, |b| {
            zd::adapter::handle_event(b, IO, api_key.as_deref(), &body)
        }))
    }
}
