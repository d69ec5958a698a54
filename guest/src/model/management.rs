//! Hand-off targets, secrets, resource types and IP addresses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Timestamp;

/// A hand-off target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOffTarget {
    /// Your id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// A stored secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Name.
    pub name: String,
    /// Stored at.
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// Changed at.
    #[serde(default)]
    pub updated: Option<Timestamp>,
}

/// Push or pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceMode {
    /// `push`
    Push,
    /// `pull`
    Pull,
}

/// A resource type. `name` is the path parameter when writing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceType {
    /// Name (case-insensitive).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Mode.
    pub mode: ResourceMode,
    /// Pull configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_config: Option<Value>,
}

/// The API's and webhooks' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IpAddresses {
    /// API addresses.
    #[serde(default)]
    pub api: Vec<String>,
    /// Webhook source addresses.
    #[serde(default)]
    pub egress: Vec<String>,
}
