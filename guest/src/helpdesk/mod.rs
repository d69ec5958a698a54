//! The helpdesks: each an adapter beside the helpdesk-neutral core
//! ([`crate::bridge`]), in its own module; none imports another.
//!
//! [`Kind`] (in the core) is the one list of them, and the one place that
//! says which helpdesk owns a conversation: its id starts with the
//! helpdesk's name.

pub mod chatwoot;
pub mod gleap;
pub mod zendesk;

pub use crate::bridge::Kind;
use crate::bridge::{self, Bridge};
use crate::error::Result;

/// A bridge's whole configuration: the core's, and each helpdesk's it
/// serves.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeConfig {
    /// The helpdesk-neutral core.
    pub core: bridge::Config,
    /// Gleap, when it is bridged (it is by default).
    pub gleap: Option<gleap::adapter::GleapConfig>,
    /// Chatwoot, when it is bridged too.
    pub chatwoot: Option<chatwoot::adapter::ChatwootConfig>,
    /// Zendesk, when it is bridged too.
    pub zendesk: Option<zendesk::adapter::ZendeskConfig>,
}

impl BridgeConfig {
    /// Defaults for everything but the client and the signing key.
    pub fn new(client: crate::Config, signing_key: impl Into<String>) -> Self {
        BridgeConfig {
            core: bridge::Config::new(client, signing_key),
            gleap: Some(gleap::adapter::GleapConfig::default()),
            chatwoot: None,
            zendesk: None,
        }
    }

    /// Gleap's settings, bridging Gleap if it was not.
    pub fn gleap_mut(&mut self) -> &mut gleap::adapter::GleapConfig {
        self.gleap.get_or_insert_with(Default::default)
    }

    /// The bridge it describes, if it is usable.
    pub fn open(self) -> Result<Bridge> {
        let mut bridge = Bridge::new(self.core)?;
        if let Some(g) = self.gleap {
            bridge.add(Box::new(gleap::adapter::Gleap::new(g)));
        }
        if let Some(c) = self.chatwoot {
            bridge.add(Box::new(chatwoot::adapter::Chatwoot::new(c)?));
        }
        if let Some(z) = self.zendesk {
            bridge.add(Box::new(zendesk::adapter::Zendesk::new(z)?));
        }
        Ok(bridge)
    }
}
