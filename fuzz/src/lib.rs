//! What the fuzz targets share: a Gleap bridge (with Chatwoot) over in-memory imports.

use glbridge_guest::bridge::{Bridge, Io};
use glbridge_guest::client::Secret;
use glbridge_guest::helpdesk::BridgeConfig;
use glbridge_guest::testing::{FakeClock, MemoryStore, ScriptedTransport};
use glbridge_guest::{Config, RetryPolicy, Timestamp};

/// The signing key the targets' webhooks are signed with.
pub const KEY: &str = "whsec_fuzz";
/// Gleap's shared secret.
pub const GLEAP: &str = "Bearer fuzz";
/// The fake clock's start, unix seconds.
pub const T0: i64 = 1_750_000_000;

/// A bridge with an API that fails every call (nothing is scripted).
pub struct World {
    /// HTTP: no answers, so every call is a transport error.
    pub http: ScriptedTransport,
    /// Time.
    pub clock: FakeClock,
    /// State.
    pub store: MemoryStore,
    /// The bridge.
    pub bridge: Bridge,
}

impl World {
    /// A fresh world.
    pub fn new() -> World {
        let mut client = Config::new("https://api.example.test", "sk_int");
        client.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let mut config = BridgeConfig::new(client, KEY);
        config.gleap_mut().gleap_secret = Some(Secret::new(GLEAP));
        config.gleap_mut().reply_wait_ms = 1_000;
        // Chatwoot too, unauthenticated, so every input reaches its parser.
        config.chatwoot = Some(
            glbridge_guest::helpdesk::chatwoot::adapter::ChatwootConfig {
                settings: glbridge_guest::helpdesk::chatwoot::Settings {
                    base_url: "https://chat.example.test".into(),
                    bot_token: "bot".into(),
                    teams: Default::default(),
                },
                auth: glbridge_guest::helpdesk::chatwoot::adapter::Auth::Insecure,
            },
        );
        World {
            http: ScriptedTransport::default(),
            clock: FakeClock::new(Timestamp::from_secs(T0)),
            store: MemoryStore::default(),
            bridge: config.open().expect("a valid configuration"),
        }
    }

    /// The imports, borrowed.
    pub fn io(&self) -> Io<'_> {
        Io {
            http: &self.http,
            clock: &self.clock,
            store: &self.store,
        }
    }

    /// The bridge and the imports at once (disjoint borrows).
    pub fn parts(&mut self) -> (&mut Bridge, Io<'_>) {
        let World {
            http,
            clock,
            store,
            bridge,
        } = self;
        (
            bridge,
            Io {
                http: &*http,
                clock: &*clock,
                store: &*store,
            },
        )
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}
