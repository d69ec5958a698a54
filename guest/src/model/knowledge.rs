//! Articles and topics.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Timestamp;

/// Who may see content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// `public`
    Public,
    /// `users`
    Users,
    /// `internal`
    Internal,
}

/// Draft or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicationStatus {
    /// `draft`
    Draft,
    /// `published`
    Published,
}

/// `POST /articles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Your id.
    pub id: String,
    /// Heading.
    #[serde(default)]
    pub title: String,
    /// Tagline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Contents.
    #[serde(default)]
    pub body: String,
    /// Topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    /// Visibility.
    pub visibility: Visibility,
    /// Draft or published.
    pub status: PublicationStatus,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// First written.
    pub created: Timestamp,
    /// Last changed.
    pub last_edited: Timestamp,
}

/// `POST /topics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// Your id.
    pub id: String,
    /// Parent topic. The official Go client sends `""` for a top-level
    /// topic: read as none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::empty_as_none"
    )]
    pub parent_id: Option<String>,
    /// Name.
    pub name: String,
    /// Tagline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Visibility.
    pub visibility: Visibility,
    /// Draft or published.
    pub status: PublicationStatus,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// First created.
    pub created: Timestamp,
    /// Last changed.
    pub last_edited: Timestamp,
}

/// Whether the agent may use an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageStatus {
    /// `on`
    On,
    /// `off`
    Off,
}
