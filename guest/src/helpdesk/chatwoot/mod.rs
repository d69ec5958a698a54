//! Chatwoot, the second helpdesk: an agent bot's signed events, what each
//! means for the AI agent, and the REST calls that carry the agent's
//! answers back. Pure functions; the bridge around them keeps the phase of
//! each conversation and the queue of calls in the store.

pub mod adapter;
pub mod event;
pub mod ids;
pub mod plan;
pub mod signature;

#[cfg(test)]
mod adapter_tests;
#[cfg(test)]
mod tests;

pub use event::{parse, BadEvent, Event};
pub use plan::{for_agent_event, for_event, Delivery, Phase, Plan, Settings};
pub use signature::{screen, sign, verify, SignatureError, DEFAULT_WINDOW_SECS};
