//! The three worlds of `wit/world.wit`, each a component built from the one
//! guest crate: what each imports and exports, and a check that a component
//! file is the world it claims to be. With the `worlds` feature the smaller
//! two are embedded beside `bridge` ([`World::embedded`]).

use std::fmt;
use std::str::FromStr;

use wasmtime::component::Component;
use wasmtime::Engine;

use crate::error::HostError;

/// A world: a component for one size of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// Webhook verification, parsing and signing; imports `clock` only.
    Verifier,
    /// Every API operation, typed, the import-free `protocol`, and the
    /// verifier's interfaces; imports `http` and `clock` (WIT `api-client`).
    Client,
    /// Everything: the client, webhook ordering, the bridge core and the
    /// helpdesk adapters; imports `http`, `clock` and `store`.
    Bridge,
}

const PACKAGE: &str = "gradient-labs:bridge";
const VERSION: &str = "@0.1.0";

const VERIFIER_EXPORTS: &[&str] = &["webhooks"];
const CLIENT_EXPORTS: &[&str] = &[
    "webhooks",
    "protocol",
    "client",
    "conversations",
    "knowledge",
    "management",
    "procedures",
    "tools",
    "notes",
    "resources",
    "traffic-groups",
    "terminology",
    "outbound",
];
const BRIDGE_ONLY_EXPORTS: &[&str] = &["ordering", "bridge-core", "gleap", "chatwoot", "zendesk"];

impl World {
    /// Every world, smallest first.
    pub const ALL: [World; 3] = [World::Verifier, World::Client, World::Bridge];

    /// Its name on the command line and in the npm package.
    pub fn name(self) -> &'static str {
        match self {
            World::Verifier => "verifier",
            World::Client => "client",
            World::Bridge => "bridge",
        }
    }

    /// Its name in `wit/world.wit`.
    pub fn wit_name(self) -> &'static str {
        match self {
            World::Client => "api-client",
            other => other.name(),
        }
    }

    /// The interfaces it imports (besides `types`, which only holds types).
    pub fn imports(self) -> &'static [&'static str] {
        match self {
            World::Verifier => &["clock"],
            World::Client => &["http", "clock"],
            World::Bridge => &["http", "clock", "store"],
        }
    }

    /// The interfaces it exports.
    pub fn exports(self) -> Vec<&'static str> {
        match self {
            World::Verifier => VERIFIER_EXPORTS.to_vec(),
            World::Client => CLIENT_EXPORTS.to_vec(),
            World::Bridge => [CLIENT_EXPORTS, BRIDGE_ONLY_EXPORTS].concat(),
        }
    }

    /// The component of this world built with this crate.
    #[cfg(feature = "worlds")]
    pub fn embedded(self) -> &'static [u8] {
        match self {
            World::Verifier => include_bytes!(concat!(env!("OUT_DIR"), "/verifier.wasm")),
            World::Client => include_bytes!(concat!(env!("OUT_DIR"), "/client.wasm")),
            World::Bridge => crate::runtime::EMBEDDED_COMPONENT,
        }
    }

    /// Checks that `bytes` is a valid component of this world: it compiles,
    /// imports exactly this world's interfaces (nothing from WASI) and
    /// exports all of its interfaces.
    pub fn check(self, bytes: &[u8]) -> Result<(), HostError> {
        let engine = Engine::default();
        let component =
            Component::new(&engine, bytes).map_err(|e| HostError::Load(format!("{e:#}")))?;
        let ty = component.component_type();
        let full = |name: &str| format!("{PACKAGE}/{name}{VERSION}");
        let mut expected: Vec<String> = self.imports().iter().map(|n| full(n)).collect();
        expected.push(full("types"));
        expected.sort();
        let mut imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
        imports.sort();
        if imports != expected {
            return Err(HostError::Load(format!(
                "not the {self} world: it imports {}, the {self} world imports {}",
                imports.join(", "),
                expected.join(", ")
            )));
        }
        let exports: Vec<&str> = ty.exports(&engine).map(|(n, _)| n).collect();
        let missing: Vec<String> = self
            .exports()
            .into_iter()
            .map(full)
            .filter(|n| !exports.contains(&n.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(HostError::Load(format!(
                "not the {self} world: it does not export {}",
                missing.join(", ")
            )));
        }
        Ok(())
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for World {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        World::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("no world {s:?}: give verifier, client or bridge"))
    }
}
