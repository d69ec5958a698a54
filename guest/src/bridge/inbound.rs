//! The answer to a helpdesk's event delivery (Chatwoot's, Zendesk's), and
//! what one of its events comes to: the same for every helpdesk that sends
//! events and is called back.

use serde_json::Value;

use crate::operation::Operation;

/// What a helpdesk's event comes to, in the helpdesk's own phases `P`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<P> {
    /// AI-agent API calls, in order.
    pub operations: Vec<Operation>,
    /// The conversation's phase once they are made.
    pub phase: P,
    /// Why nothing is done, when nothing is.
    pub ignored: Option<String>,
}

impl<P> Plan<P> {
    /// Nothing to do, and why; the phase stays.
    pub fn ignore(phase: P, why: impl Into<String>) -> Self {
        Plan {
            operations: Vec::new(),
            phase,
            ignored: Some(why.into()),
        }
    }
}

/// What an adapter did with a delivery, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Planned and queued.
    Accepted,
    /// Seen before: nothing queued again.
    Duplicate,
    /// Authentic, but nothing to do (the body says why).
    Ignored,
    /// Its credentials (signature, window, token, key) were refused.
    Unauthorized,
    /// Not a usable delivery, or the helpdesk is not configured.
    BadRequest,
    /// The store failed; nothing was kept. Answered 503: the sender tries
    /// again.
    StoreError,
}

impl Outcome {
    /// The kebab-case name used in metrics and in the WIT.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Unauthorized => "unauthorized",
            Outcome::BadRequest => "bad-request",
            Outcome::StoreError => "store-error",
        }
    }
}

/// An HTTP answer to a delivery, for the host to write as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// What happened.
    pub outcome: Outcome,
    /// Conversations whose outbound queue grew, once committed: drain them.
    pub work: Vec<String>,
}

impl Answer {
    /// An answer that queued nothing.
    pub fn new(status: u16, outcome: Outcome, body: Value) -> Self {
        Answer {
            status,
            body,
            outcome,
            work: Vec::new(),
        }
    }

    /// The answer when the bridge does not serve the helpdesk.
    pub fn not_served(helpdesk: &str) -> Self {
        Answer::new(
            404,
            Outcome::BadRequest,
            serde_json::json!({ "error": format!("{helpdesk} is not configured") }),
        )
    }
}
