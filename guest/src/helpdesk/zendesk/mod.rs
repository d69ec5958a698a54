//! Zendesk messaging (Sunshine Conversations v2), the third helpdesk: its
//! webhook deliveries, what each event means for the AI agent, and the
//! Sunshine calls that carry the agent's answers back.

pub mod adapter;
pub mod event;
pub mod plan;

#[cfg(test)]
mod adapter_tests;

pub use event::{parse, BadDelivery, Event};
pub use plan::{for_agent_event, Phase, Plan, Settings, AGENT_WORKSPACE};
