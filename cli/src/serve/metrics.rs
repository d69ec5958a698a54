//! Prometheus metrics of the service.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request counter. Static strings and a number, so that
/// counting a request allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route pattern.
    pub route: &'static str,
    /// HTTP status.
    pub status: u16,
}

/// Labels naming an outcome or a guest call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    /// The name.
    pub name: &'static str,
}

/// Every metric `/metrics` shows.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Outcomes the component reported.
    pub outcomes: Family<NameLabels, Counter>,
    /// Webhooks refused for their signature.
    pub verify_failures: Counter,
    /// Webhooks whose signature header was screened before their body
    /// had arrived.
    pub webhooks_screened: Counter,
    /// Replies queued for Gleap.
    pub queue_depth: Gauge,
    /// Gleap calls parked, waiting for the agent.
    pub gleap_waiting: Gauge,
    /// Gleap calls that answered before their turn was over, to leave
    /// connections for the event routes (their replies stay queued).
    pub gleap_answered_early: Counter,
    /// Time inside the component per call.
    pub guest_call_seconds: Family<NameLabels, Histogram>,
    /// Webhook calls committed together, per group commit.
    pub commit_group_calls: Histogram,
    /// Calls whose commit lost to another call (of this replica or
    /// another) and that ran again on the state that won.
    pub store_conflicts: Counter,
    /// Leased outbound work that stopped because another replica took its
    /// lane over.
    pub leases_lost: Counter,
    /// Wake-ups heard from the shared store (PostgreSQL NOTIFY).
    pub wakeups_heard: Counter,
    /// 1 while the store answers, 0 while it does not.
    pub store_ready: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("glbridge");
        let requests = Family::<RequestLabels, Counter>::default();
        let outcomes = Family::<NameLabels, Counter>::default();
        let verify_failures = Counter::default();
        let webhooks_screened = Counter::default();
        let queue_depth = Gauge::default();
        let gleap_waiting = Gauge::default();
        let gleap_answered_early = Counter::default();
        let guest_call_seconds = Family::<NameLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
        });
        let commit_group_calls = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let store_conflicts = Counter::default();
        let leases_lost = Counter::default();
        let wakeups_heard = Counter::default();
        let store_ready = Gauge::default();
        registry.register(
            "store_conflicts",
            "Calls whose commit lost to another call and that ran again on the state that won",
            store_conflicts.clone(),
        );
        registry.register(
            "leases_lost",
            "Leased outbound work stopped because another replica took its lane over",
            leases_lost.clone(),
        );
        registry.register(
            "wakeups_heard",
            "Wake-ups heard from the shared store (PostgreSQL NOTIFY)",
            wakeups_heard.clone(),
        );
        registry.register(
            "store_ready",
            "1 while the store answers, 0 while it does not",
            store_ready.clone(),
        );
        registry.register(
            "commit_group_calls",
            "Webhook calls committed together in one store transaction (group commit)",
            commit_group_calls.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "outcomes",
            "What the component did with a request",
            outcomes.clone(),
        );
        registry.register(
            "webhook_verify_failures",
            "Webhooks refused for a bad, stale or missing signature",
            verify_failures.clone(),
        );
        registry.register(
            "webhooks_screened",
            "Inbound events (the agent's webhooks, Chatwoot's) whose signature headers were screened before their body had arrived",
            webhooks_screened.clone(),
        );
        registry.register(
            "queue_depth",
            "Agent replies waiting in the outboxes for the helpdesk calls that collect them (Gleap)",
            queue_depth.clone(),
        );
        registry.register(
            "gleap_waiting",
            "Gleap calls parked until the agent's turn ends",
            gleap_waiting.clone(),
        );
        registry.register(
            "gleap_answered_early",
            "Gleap calls answered before the agent's turn was over, to leave connections for the event routes",
            gleap_answered_early.clone(),
        );
        registry.register(
            "guest_call_seconds",
            "Time spent in one component call (waiting for a reply included)",
            guest_call_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            outcomes,
            verify_failures,
            webhooks_screened,
            queue_depth,
            gleap_waiting,
            gleap_answered_early,
            guest_call_seconds,
            commit_group_calls,
            store_conflicts,
            leases_lost,
            wakeups_heard,
            store_ready,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
