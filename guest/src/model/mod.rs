//! The API's data, with the official clients' JSON field names.

pub mod conversations;
pub mod knowledge;
pub mod management;

use serde::{Deserialize, Serialize};

/// How the customer gets in touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Live chat.
    Web,
    /// E-mail.
    Email,
    /// Phone.
    Voice,
}

/// Who sent a message or is assigned; `AI Agent` has a space on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParticipantType {
    /// `Customer`
    Customer,
    /// `Agent`
    Agent,
    /// `Bot`
    Bot,
    /// `AI Agent`
    #[serde(rename = "AI Agent")]
    AiAgent,
}

impl ParticipantType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantType::Customer => "Customer",
            ParticipantType::Agent => "Agent",
            ParticipantType::Bot => "Bot",
            ParticipantType::AiAgent => "AI Agent",
        }
    }
}

impl Channel {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Email => "email",
            Channel::Voice => "voice",
        }
    }
}

/// An optional string where `""` means none (as some clients send it).
pub(crate) fn empty_as_none<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.filter(|s| !s.is_empty()))
}
