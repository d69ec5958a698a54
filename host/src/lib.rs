//! glbridge-host: the thin wasmtime host of the glbridge component.
//!
//! It loads the component (the one embedded at build time, or one from a
//! file), supplies its three imports — HTTP, a clock and a store — and bounds
//! it (guest CPU time per call, memory). Everything protocol-related happens
//! inside the component; this crate only moves bytes and time.
//!
//! ```no_run
//! use std::sync::Arc;
//! use glbridge_host::{Bridge, BridgeOptions, Env, SystemClock, UreqTransport, MemoryStore};
//! use glbridge_host::guest::Config;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bridge = Bridge::new(BridgeOptions::default())?;
//! let env = Env::new(Arc::new(UreqTransport::new()), Arc::new(SystemClock), Arc::new(MemoryStore::default()));
//! let mut session = bridge.session(env);
//! session.open_client(&Config::new("https://api.gradient-labs.ai", "my-key"))?;
//! let conversation = session.call("conversations.read", r#"{"conversation_id": "c-1"}"#)?;
//! println!("{conversation}");
//! # Ok(()) }
//! ```

pub mod bindings;
pub mod clock;
pub mod convert;
pub mod env;
pub mod error;
mod limits;
pub mod runtime;
pub mod session;
pub mod store;
pub mod transport;
pub mod worlds;

/// The guest library's plain types (configuration, errors, fakes) for embedders.
pub use glbridge_guest as guest;

pub use clock::{FakeClock, SystemClock};
pub use env::Env;
pub use error::HostError;
pub use runtime::{Bridge, BridgeOptions, ComponentSource, InstanceAllocator, EMBEDDED_COMPONENT};
pub use session::{SequencerConfig, Session};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
pub use store::{Backend, Durability, MemoryStore, SqliteStore, Uncommitted};
pub use transport::{ScriptedTransport, UreqTransport};
pub use worlds::World;
