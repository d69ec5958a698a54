//! Chatwoot agent-bot events: the signature headers and body as
//! `verify` reads them, then the body through the bridge as `serve` calls
//! it (and a drain of what it queued): an answer, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `<timestamp>\n<signature>\n<body>`, for the signature check.
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().map(String::from_utf8_lossy);
    let signature = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();
    let _ = glbridge_guest::helpdesk::chatwoot::verify(
        "cw_fuzz",
        timestamp.as_deref(),
        signature.as_deref(),
        body,
        glbridge_fuzz::T0,
        300,
    );
    let mut world = glbridge_fuzz::World::new();
    let (bridge, io) = world.parts();
    let answer = glbridge_guest::helpdesk::chatwoot::adapter::handle_event(
        bridge, io, None, None, None, data,
    );
    for conversation in answer.work {
        let _ = bridge.drain(io, &conversation);
    }
});
