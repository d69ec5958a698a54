//! A session: one component instance with its imports, re-made after a trap.

use std::collections::HashMap;
use std::sync::Arc;

use glbridge_guest::Timestamp;
use wasmtime::component::ResourceAny;

use crate::bindings::{self, bridge_core, chatwoot, client, gleap, ordering, types, webhooks};
use crate::convert::{wit_bridge_config, wit_config, WitBridgeConfig};
use crate::env::{Env, HostState};
use crate::error::HostError;
use crate::runtime::Bridge;
#[allow(unused_imports)] // named in the docs
use crate::store::Backend;
use crate::store::Uncommitted;
use glbridge_guest::helpdesk::BridgeConfig;

/// How a webhook sequencer is set up (see the WIT `sequencer`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequencerConfig {
    /// Store key prefix.
    pub namespace: String,
    /// How long an event waits for a missing predecessor, in nanoseconds.
    pub max_hold_ns: u64,
    /// The number a conversation's first event carries.
    pub first_sequence_number: u64,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            namespace: "webhooks".into(),
            max_hold_ns: 30_000_000_000,
            first_sequence_number: 1,
        }
    }
}

struct Live {
    store: wasmtime::Store<HostState>,
    bindings: bindings::Bridge,
    client: Option<ResourceAny>,
    /// The bridge resource, its helpdesks attached.
    bridge: Option<ResourceAny>,
    sequencers: HashMap<SequencerConfig, ResourceAny>,
}

/// One instance of the component and the imports it runs with. Not shared
/// between threads: make one per worker. Any trap discards the instance;
/// the next call instantiates a fresh one (and re-opens the client).
pub struct Session {
    bridge: Bridge,
    env: Env,
    client_config: Option<client::Config>,
    bridge_config: Option<Arc<WitBridgeConfig>>,
    live: Option<Live>,
    /// Inside [`Session::deferred`]: calls leave their writes here.
    deferring: Option<Vec<Uncommitted>>,
    /// Inside [`Session::cached_reads`].
    cached_reads: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("live", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

fn trap(e: wasmtime::Error) -> HostError {
    HostError::Trap(format!("{e:#}"))
}

impl Session {
    pub(crate) fn new(bridge: Bridge, env: Env) -> Self {
        Session {
            bridge,
            env,
            client_config: None,
            bridge_config: None,
            live: None,
            deferring: None,
            cached_reads: false,
        }
    }

    /// The imports this session runs with.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Runs `f` against the live instance (made if needed). A trap discards it.
    fn guard<R>(
        &mut self,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        if self.live.is_none() {
            let (store, bindings) = self.bridge.instantiate(&self.env)?;
            self.live = Some(Live {
                store,
                bindings,
                client: None,
                bridge: None,
                sequencers: HashMap::new(),
            });
        }
        let Some(live) = self.live.as_mut() else {
            return Err(HostError::Load("instance vanished".into()));
        };
        live.store.data_mut().begin_call(self.cached_reads);
        let result = f(live);
        // One call, one transaction: what the call wrote is committed (or,
        // after a trap, discarded) before its result is handed back — or,
        // deferred, handed to the caller to commit.
        let committed = match (&mut self.deferring, result.is_ok()) {
            (Some(pending), true) => {
                let state = live.store.data_mut();
                let (writes, held) = state.tx.take();
                let env = &state.env;
                if writes.is_empty() {
                    env.locks.release(&held);
                } else {
                    pending.push(Uncommitted::new(
                        writes,
                        held,
                        env.store.clone(),
                        env.locks.clone(),
                    ));
                }
                Ok(())
            }
            _ => live.store.data_mut().end_call(result.is_ok()),
        };
        if result.is_err() {
            self.live = None;
        }
        let r = result.map_err(trap)?;
        committed?;
        Ok(r)
    }

    /// Runs `f` with the commits of its component calls deferred: their
    /// writes and locks come back as [`Uncommitted`], for the caller to
    /// commit — together with other calls' — before it acts on the result
    /// (e.g. acknowledges a webhook). Nothing `f` wrote is visible to other
    /// calls until then, and the locks it took stay held.
    pub fn deferred<R>(
        &mut self,
        f: impl FnOnce(&mut Session) -> Result<R, HostError>,
    ) -> (Result<R, HostError>, Vec<Uncommitted>) {
        let outer = self.deferring.replace(Vec::new());
        let r = f(self);
        let pending = std::mem::replace(&mut self.deferring, outer).unwrap_or_default();
        (r, pending)
    }

    /// Runs `f` with its calls reading through the store's cache of
    /// committed values ([`Backend::get_cached`]). On a store shared with
    /// other processes a cached value may be stale, so every read such a
    /// call made — also by a call that writes nothing — comes to its
    /// commit to be checked, and a stale one fails it as a conflict: use it
    /// for calls that are safe to run again and whose effects outside the
    /// store are too (e.g. a webhook's, with commits deferred).
    pub fn cached_reads<R>(&mut self, f: impl FnOnce(&mut Session) -> R) -> R {
        let outer = std::mem::replace(&mut self.cached_reads, true);
        let r = f(self);
        self.cached_reads = outer;
        r
    }

    /// Configures the API client that the client calls use. Validated by
    /// the component at once.
    pub fn open_client(&mut self, config: &glbridge_guest::Config) -> Result<(), HostError> {
        let wit = wit_config(config);
        let opened = self.guard(|live| {
            if let Some(old) = live.client.take() {
                old.resource_drop(&mut live.store)?;
            }
            let r = live
                .bindings
                .gradient_labs_bridge_client()
                .client()
                .call_open(&mut live.store, &wit)?;
            if let Ok(handle) = &r {
                live.client = Some(*handle);
            }
            Ok(r.map(|_| ()))
        })?;
        opened?;
        self.client_config = Some(wit);
        Ok(())
    }

    /// Runs `f` with the component's bindings, its store and the client
    /// handle: the typed way to reach every export, e.g.
    /// `session.with_client(|b, s, c| b.gradient_labs_bridge_conversations().call_read(s, c, "c-1"))`.
    pub fn with_client<R>(
        &mut self,
        f: impl FnOnce(
            &bindings::Bridge,
            &mut wasmtime::Store<HostState>,
            ResourceAny,
        ) -> wasmtime::Result<Result<R, types::Error>>,
    ) -> Result<R, HostError> {
        let config = self.client_config.clone().ok_or(HostError::NoClient)?;
        let result = self.guard(|live| {
            let handle = match live.client {
                Some(h) => h,
                None => match live
                    .bindings
                    .gradient_labs_bridge_client()
                    .client()
                    .call_open(&mut live.store, &config)?
                {
                    Ok(h) => {
                        live.client = Some(h);
                        h
                    }
                    Err(e) => return Ok(Err(e)),
                },
            };
            f(&live.bindings, &mut live.store, handle)
        })?;
        Ok(result?)
    }

    /// Runs any operation by name with JSON parameters (see
    /// [`Session::operations`]); returns its JSON result.
    pub fn call(&mut self, operation: &str, params: &str) -> Result<serde_json::Value, HostError> {
        let text = self.with_client(|b, s, c| {
            b.gradient_labs_bridge_client()
                .client()
                .call_call(s, c, operation, &params.to_owned())
        })?;
        serde_json::from_str(&text).map_err(|e| HostError::Protocol(e.to_string()))
    }

    /// The component's version.
    pub fn version(&mut self) -> Result<String, HostError> {
        self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_protocol()
                .call_version(&mut live.store)
        })
    }

    /// Linear memory the instance holds now, in bytes (0 before its first
    /// call makes it).
    pub fn memory_bytes(&self) -> usize {
        self.live
            .as_ref()
            .map_or(0, |live| live.store.data().limits.memory_bytes)
    }

    /// The operation names `call` accepts.
    pub fn operations(&mut self) -> Result<Vec<String>, HostError> {
        self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_protocol()
                .call_operations(&mut live.store)
        })
    }

    /// One operation described (summary, role, method, path, parameters),
    /// as the component's table declares it.
    pub fn describe(&mut self, operation: &str) -> Result<serde_json::Value, HostError> {
        let text = self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_protocol()
                .call_describe(&mut live.store, operation)
        })??;
        serde_json::from_str(&text).map_err(|e| HostError::Load(format!("describe: {e}")))
    }

    /// Builds the request for an operation without sending it. (Its
    /// `Debug` shows no header values: `Authorization` carries the key.)
    pub fn build_request(
        &mut self,
        config: &glbridge_guest::Config,
        operation: &str,
        params: &str,
    ) -> Result<glbridge_guest::http::HttpRequest, HostError> {
        let wit = wit_config(config);
        let request = self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_protocol()
                .call_build_request(&mut live.store, &wit, operation, &params.to_owned())
        })??;
        Ok(crate::convert::request_from_wit(request))
    }

    /// Signs a webhook body: the `X-GradientLabs-Signature` value.
    pub fn webhook_sign(
        &mut self,
        signing_key: &str,
        timestamp_secs: i64,
        body: &[u8],
    ) -> Result<String, HostError> {
        self.guard(|live| {
            live.bindings.gradient_labs_bridge_webhooks().call_sign(
                &mut live.store,
                signing_key,
                timestamp_secs,
                body,
            )
        })
    }

    /// Verifies a webhook signature (`now` defaults to the session's clock).
    pub fn webhook_verify(
        &mut self,
        signing_key: &str,
        header: &str,
        body: &[u8],
        now: Option<Timestamp>,
        leeway_secs: Option<u32>,
    ) -> Result<(), HostError> {
        Ok(self.guard(|live| {
            live.bindings.gradient_labs_bridge_webhooks().call_verify(
                &mut live.store,
                signing_key,
                header,
                body,
                now.map(|t| t.0),
                leeway_secs,
            )
        })??)
    }

    /// Verifies, then parses a webhook.
    pub fn webhook_receive(
        &mut self,
        signing_key: &str,
        header: &str,
        token: Option<&str>,
        body: &[u8],
        now: Option<Timestamp>,
        leeway_secs: Option<u32>,
    ) -> Result<webhooks::Event, HostError> {
        Ok(self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_webhooks()
                .call_verify_and_parse(
                    &mut live.store,
                    signing_key,
                    header,
                    token,
                    body,
                    now.map(|t| t.0),
                    leeway_secs,
                )
        })??)
    }

    /// Parses a webhook body without checking a signature.
    pub fn webhook_parse(
        &mut self,
        body: &[u8],
        token: Option<&str>,
    ) -> Result<webhooks::Event, HostError> {
        Ok(self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_webhooks()
                .call_parse(&mut live.store, body, token)
        })??)
    }

    /// An event as JSON (`id`, `type`, `sequence_number`, `timestamp`, `data`, ...).
    pub fn event_json(&mut self, event: &webhooks::Event) -> Result<serde_json::Value, HostError> {
        let text = self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_webhooks()
                .call_event_json(&mut live.store, event)
        })?;
        serde_json::from_str(&text).map_err(|e| HostError::Protocol(e.to_string()))
    }

    fn sequencer(live: &mut Live, config: &SequencerConfig) -> wasmtime::Result<ResourceAny> {
        if let Some(h) = live.sequencers.get(config) {
            return Ok(*h);
        }
        let h = live
            .bindings
            .gradient_labs_bridge_ordering()
            .sequencer()
            .call_constructor(
                &mut live.store,
                &config.namespace,
                config.max_hold_ns,
                config.first_sequence_number,
            )?;
        live.sequencers.insert(config.clone(), h);
        Ok(h)
    }

    /// Offers an event to the sequencer: duplicate or not, and what is now ready.
    pub fn sequencer_offer(
        &mut self,
        config: &SequencerConfig,
        event: &webhooks::Event,
    ) -> Result<ordering::OfferOutcome, HostError> {
        Ok(self.guard(|live| {
            let h = Self::sequencer(live, config)?;
            live.bindings
                .gradient_labs_bridge_ordering()
                .sequencer()
                .call_offer(&mut live.store, h, event)
        })??)
    }

    /// Releases held events whose wait has passed.
    pub fn sequencer_poll(
        &mut self,
        config: &SequencerConfig,
    ) -> Result<Vec<ordering::Released>, HostError> {
        Ok(self.guard(|live| {
            let h = Self::sequencer(live, config)?;
            live.bindings
                .gradient_labs_bridge_ordering()
                .sequencer()
                .call_poll(&mut live.store, h)
        })??)
    }

    /// Configures the bridge this session's bridge and helpdesk calls use:
    /// the core, then each helpdesk attached; validated by the component
    /// at once.
    pub fn open_bridge(&mut self, config: &BridgeConfig) -> Result<(), HostError> {
        let wit = wit_bridge_config(config);
        let opened = self.guard(|live| {
            if let Some(old) = live.bridge.take() {
                old.resource_drop(&mut live.store)?;
            }
            let r = open_wit_bridge(live, &wit)?;
            if let Ok(h) = &r {
                live.bridge = Some(*h);
            }
            Ok(r.map(|_| ()))
        })?;
        opened?;
        self.bridge_config = Some(Arc::new(wit));
        Ok(())
    }

    fn with_bridge<R>(
        &mut self,
        f: impl FnOnce(
            &bindings::Bridge,
            &mut wasmtime::Store<HostState>,
            ResourceAny,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        // An Arc: every call takes the config, only the first one (per
        // instance) reads it.
        let config = self.bridge_config.clone().ok_or(HostError::NoClient)?;
        let result = self.guard(|live| {
            let handle = match live.bridge {
                Some(h) => h,
                None => match open_wit_bridge(live, &config)? {
                    Ok(h) => {
                        live.bridge = Some(h);
                        h
                    }
                    Err(e) => return Ok(Err(e)),
                },
            };
            f(&live.bindings, &mut live.store, handle).map(Ok)
        })?;
        Ok(result?)
    }

    /// `POST /gleap/action`: the answer, or what to wait for before [`Session::gleap_collect`].
    pub fn gleap_action(
        &mut self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<gleap::Turn, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_gleap()
                .call_handle_action(s, h, authorization, body)
        })
    }

    /// Looks again at a pending Gleap call.
    pub fn gleap_collect(&mut self, pending: &gleap::Pending) -> Result<gleap::Turn, HostError> {
        self.with_bridge(|b, s, h| b.gradient_labs_bridge_gleap().call_collect(s, h, pending))
    }

    /// Looks at the agent's webhook's signature header before its body is
    /// read: the answer to send at once (missing, malformed, stale), else
    /// `None`.
    pub fn screen_webhook(
        &mut self,
        signature: Option<&str>,
    ) -> Result<Option<bridge_core::Answer>, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_bridge_core()
                .bridge()
                .call_screen_webhook(s, h, signature)
        })
    }

    /// `POST /webhooks/gradient-labs`, answered by the component.
    pub fn webhook(
        &mut self,
        signature: Option<&str>,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<bridge_core::Answer, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_bridge_core()
                .bridge()
                .call_handle_webhook(s, h, signature, token, body)
        })
    }

    /// Looks at a Chatwoot event's headers and URL token before its body
    /// is read: the answer to send at once, else `None`.
    pub fn chatwoot_screen(
        &mut self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
    ) -> Result<Option<bridge_core::InboundAnswer>, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_chatwoot()
                .call_screen_event(s, h, timestamp, signature, url_token)
        })
    }

    /// `POST /chatwoot/webhook`, answered by the component once what the
    /// event means is queued (in this call's transaction).
    pub fn chatwoot_event(
        &mut self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        url_token: Option<&str>,
        body: &[u8],
    ) -> Result<bridge_core::InboundAnswer, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_chatwoot()
                .call_handle_event(s, h, timestamp, signature, url_token, body)
        })
    }

    /// Looks at a Zendesk delivery's `X-API-Key` before its body is read:
    /// the answer to send at once, else `None`.
    pub fn zendesk_screen(
        &mut self,
        api_key: Option<&str>,
    ) -> Result<Option<bridge_core::InboundAnswer>, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_zendesk()
                .call_screen_event(s, h, api_key)
        })
    }

    /// `POST /zendesk/webhook`, answered by the component once what its
    /// events mean is queued (in this call's transaction).
    pub fn zendesk_event(
        &mut self,
        api_key: Option<&str>,
        body: &[u8],
    ) -> Result<bridge_core::InboundAnswer, HostError> {
        self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_zendesk()
                .call_handle_event(s, h, api_key, body)
        })
    }

    /// Makes the due call at the head of a conversation's outbound queue.
    pub fn drain(&mut self, conversation: &str) -> Result<bridge_core::DrainReport, HostError> {
        Ok(self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_bridge_core()
                .bridge()
                .call_drain(s, h, conversation)
        })??)
    }

    /// Conversations with outbound calls queued.
    pub fn busy(&mut self) -> Result<Vec<String>, HostError> {
        Ok(self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_bridge_core()
                .bridge()
                .call_busy(s, h)
        })??)
    }

    /// Releases held events and runs each helpdesk's periodic work.
    pub fn tick(&mut self) -> Result<bridge_core::TickReport, HostError> {
        Ok(self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_bridge_core()
                .bridge()
                .call_tick(s, h)
        })??)
    }

    /// Items waiting in the outboxes.
    pub fn queue_depth(&mut self) -> Result<u64, HostError> {
        Ok(self.with_bridge(|b, s, h| {
            b.gradient_labs_bridge_bridge_core()
                .bridge()
                .call_queue_depth(s, h)
        })??)
    }

    /// Checks a Chatwoot event's `X-Chatwoot-Timestamp` and
    /// `X-Chatwoot-Signature` against its raw body (`now` defaults to the
    /// session's clock, the window to 300 s).
    pub fn chatwoot_verify(
        &mut self,
        secret: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        window_secs: Option<u32>,
    ) -> Result<Result<(), chatwoot::EventError>, HostError> {
        let (timestamp, signature) = (timestamp.map(str::to_owned), signature.map(str::to_owned));
        self.guard(|live| {
            live.bindings.gradient_labs_bridge_chatwoot().call_verify(
                &mut live.store,
                secret,
                timestamp.as_deref(),
                signature.as_deref(),
                body,
                None,
                window_secs,
            )
        })
    }

    /// Which AI-agent conversation a Chatwoot event is about, and its
    /// de-duplication key.
    pub fn chatwoot_about(
        &mut self,
        body: &[u8],
    ) -> Result<Result<chatwoot::Subject, chatwoot::EventError>, HostError> {
        self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_chatwoot()
                .call_about(&mut live.store, body)
        })
    }

    /// What a Chatwoot event means for the AI agent in `phase`.
    pub fn chatwoot_plan(
        &mut self,
        body: &[u8],
        phase: chatwoot::Phase,
    ) -> Result<Result<chatwoot::Plan, chatwoot::EventError>, HostError> {
        self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_chatwoot()
                .call_plan_event(&mut live.store, body, phase, None)
        })
    }

    /// The Chatwoot calls for an AI-agent webhook event in `phase`.
    pub fn chatwoot_deliver(
        &mut self,
        settings: &chatwoot::Settings,
        event: &[u8],
        phase: chatwoot::Phase,
    ) -> Result<Result<chatwoot::Delivery, chatwoot::EventError>, HostError> {
        self.guard(|live| {
            live.bindings
                .gradient_labs_bridge_chatwoot()
                .call_deliver_agent_event(&mut live.store, settings, event, phase)
        })
    }
}

/// Opens the bridge a configuration describes in `live`'s instance and
/// attaches its helpdesks: the handle, or the component's refusal.
fn open_wit_bridge(
    live: &mut Live,
    config: &WitBridgeConfig,
) -> wasmtime::Result<Result<ResourceAny, types::Error>> {
    let h = match live
        .bindings
        .gradient_labs_bridge_bridge_core()
        .bridge()
        .call_open(&mut live.store, &config.core)?
    {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(c) = &config.gleap {
        if let Err(e) =
            live.bindings
                .gradient_labs_bridge_gleap()
                .call_serve(&mut live.store, h, c)?
        {
            return Ok(Err(e));
        }
    }
    if let Some(c) = &config.chatwoot {
        if let Err(e) =
            live.bindings
                .gradient_labs_bridge_chatwoot()
                .call_serve(&mut live.store, h, c)?
        {
            return Ok(Err(e));
        }
    }
    if let Some(c) = &config.zendesk {
        if let Err(e) =
            live.bindings
                .gradient_labs_bridge_zendesk()
                .call_serve(&mut live.store, h, c)?
        {
            return Ok(Err(e));
        }
    }
    Ok(Ok(h))
}
