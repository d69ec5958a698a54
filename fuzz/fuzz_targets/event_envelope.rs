//! Webhook bodies: parsed into events, or refused with an error; a body that
//! parses, signed, goes through the Gleap bridge's webhook route.
#![no_main]

use glbridge_guest::webhook::{event, signature::sign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = event::parse(data, None);
    let _ = event::parse(data, Some("token"));
    let mut world = glbridge_fuzz::World::new();
    let header = sign(glbridge_fuzz::KEY, glbridge_fuzz::T0, data);
    let (bridge, io) = world.parts();
    let answer = bridge.handle_webhook(io, Some(&header), None, data);
    assert!(answer.status >= 200 && answer.status < 600);
});
