//! Rust bindings of the `bridge` world, generated from `wit/`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "bridge",
});

pub use exports::gradient_labs::bridge::{
    bridge_core, chatwoot, client, conversations, gleap, knowledge, management, notes, ordering,
    outbound, procedures, protocol, resources, terminology, tools, traffic_groups, webhooks,
    zendesk,
};
pub use gradient_labs::bridge::{clock, http, store, types};
