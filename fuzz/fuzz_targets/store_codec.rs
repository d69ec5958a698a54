//! The stored state, as a damaged or foreign store could hold it: the
//! input is written as the value of every key the bridge and the sequencer
//! read, then webhooks, a Gleap call, a collect and a tick run over it.
//! Errors are answers (500), never panics.
#![no_main]

use glbridge_guest::env::Store;
use glbridge_guest::webhook::signature::sign;
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "gleap/seq/conv/gleap-c1",
    "gleap/seq/held/gleap-c1",
    "gleap/conv/gleap-c1",
    "gleap/waiting/gleap-c1",
    "gleap/out/gleap-c1/00000000000000000001-e1",
    "gleap/fwd/gleap-c1/gleap-k1",
    "gleap/forwarded/gleap-c1",
    "gleap/ended/000000486111/gleap-c1",
    "gleap/ended-cursor",
];

fuzz_target!(|data: &[u8]| {
    let mut world = glbridge_fuzz::World::new();
    for key in KEYS {
        let _ = world.store.compare_and_swap(key, None, Some(data));
    }
    let body = br#"{"id":"e2","type":"agent.message","sequence_number":2,"timestamp":"2025-01-01T00:00:00Z","data":{"conversation":{"id":"gleap-c1"},"body":"hi"}}"#;
    let header = sign(glbridge_fuzz::KEY, glbridge_fuzz::T0, body);
    let (bridge, io) = world.parts();
    let _ = bridge.handle_webhook(io, Some(&header), None, body);
    let call = br#"{"conversation":{"id":"c1"},"session":{"userId":"u"},"comments":[{"id":"k1","comment":"hi"}]}"#;
    let (bridge, io) = world.parts();
    if let glbridge_guest::helpdesk::gleap::adapter::Turn::Pending(p) =
        glbridge_guest::helpdesk::gleap::adapter::handle_action(
            bridge,
            io,
            Some(glbridge_fuzz::GLEAP),
            call,
        )
    {
        let _ = glbridge_guest::helpdesk::gleap::adapter::collect(bridge, io, &p);
    }
    world.clock.advance(30 * 3_600 * 1_000_000_000);
    let (bridge, io) = world.parts();
    let _ = bridge.tick(io);
});
