//! `--seed FILE`: a help centre to start with (JSON, or TOML by extension).

use std::path::Path;

use glbridge_guest::model::knowledge::{PublicationStatus, Visibility};
use serde::{Deserialize, Serialize};

/// An action the agent calls (through `action.execute`) when a customer
/// message contains any of its keywords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRule {
    /// The action's name, sent as `data.action`.
    pub name: String,
    /// Lower-case words or phrases; any one in the message triggers it.
    pub keywords: Vec<String>,
    /// The reply; `{{field}}` is replaced by that field of the receiver's
    /// JSON answer. Without it the agent quotes the answer.
    #[serde(default)]
    pub reply: Option<String>,
    /// Sent first as an `is_holding` message.
    #[serde(default = "default_holding")]
    pub holding: String,
}

fn default_holding() -> String {
    "One moment while I look that up for you.".into()
}

/// A seeded article; visibility and status default to public and published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedArticle {
    /// Id.
    pub id: String,
    /// Heading.
    pub title: String,
    /// Contents.
    pub body: String,
    /// Topic.
    #[serde(default)]
    pub topic_id: Option<String>,
    /// Visibility.
    #[serde(default = "public")]
    pub visibility: Visibility,
    /// Status.
    #[serde(default = "published")]
    pub status: PublicationStatus,
}

fn public() -> Visibility {
    Visibility::Public
}

fn published() -> PublicationStatus {
    PublicationStatus::Published
}

/// A seeded topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedTopic {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Parent.
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// A seeded hand-off target; `default = true` makes it every channel's default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedTarget {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Default for every channel.
    #[serde(default)]
    pub default: bool,
}

/// The seed file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Articles.
    #[serde(default)]
    pub articles: Vec<SeedArticle>,
    /// Topics.
    #[serde(default)]
    pub topics: Vec<SeedTopic>,
    /// Hand-off targets.
    #[serde(default)]
    pub hand_off_targets: Vec<SeedTarget>,
    /// Actions.
    #[serde(default)]
    pub actions: Vec<ActionRule>,
}

impl Seed {
    /// Reads a seed file: TOML when it ends in `.toml`, JSON otherwise.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let seed: Seed = if is_toml {
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        };
        seed.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(seed)
    }

    /// Ids valid, actions with keywords.
    pub fn validate(&self) -> Result<(), String> {
        let ids = self
            .articles
            .iter()
            .map(|a| ("articles.id", &a.id))
            .chain(self.topics.iter().map(|t| ("topics.id", &t.id)))
            .chain(
                self.hand_off_targets
                    .iter()
                    .map(|t| ("hand_off_targets.id", &t.id)),
            );
        for (field, id) in ids {
            glbridge_guest::validate::id(field, id).map_err(|e| e.to_string())?;
        }
        for a in &self.actions {
            if a.name.trim().is_empty() || a.keywords.iter().all(|k| k.trim().is_empty()) {
                return Err(format!(
                    "action {:?} needs a name and at least one keyword",
                    a.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_toml_and_json_and_refuses_bad_ids() {
        let dir = std::env::temp_dir().join(format!("glbridge-seed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("seed.toml");
        std::fs::write(
            &toml_path,
            r#"
[[articles]]
id = "returns"
title = "Returns"
body = "Return within 30 days."

[[hand_off_targets]]
id = "support"
name = "Support"
default = true

[[actions]]
name = "order-status"
keywords = ["where is my order"]
reply = "Order {{id}} is {{status}}."
"#,
        )
        .unwrap();
        let seed = Seed::load(&toml_path).unwrap();
        assert_eq!(seed.articles[0].status, PublicationStatus::Published);
        assert!(seed.hand_off_targets[0].default);
        assert_eq!(seed.actions[0].holding, default_holding());
        let json_path = dir.join("seed.json");
        std::fs::write(
            &json_path,
            r#"{"articles": [{"id": "bad id", "title": "t", "body": "b"}]}"#,
        )
        .unwrap();
        assert!(Seed::load(&json_path).unwrap_err().contains("articles.id"));
        std::fs::write(&json_path, r#"{"artcles": []}"#).unwrap();
        assert!(Seed::load(&json_path).unwrap_err().contains("artcles"));
        std::fs::remove_dir_all(dir).ok();
    }
}
