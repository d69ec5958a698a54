//! Gleap custom-action bodies, through the bridge as `serve` calls it: a
//! 4xx or 5xx answer or a pending turn, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut world = glbridge_fuzz::World::new();
    let (bridge, io) = world.parts();
    let _ = glbridge_guest::helpdesk::gleap::adapter::handle_action(
        bridge,
        io,
        Some(glbridge_fuzz::GLEAP),
        data,
    );
});
