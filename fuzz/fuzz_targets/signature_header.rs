//! The `X-GradientLabs-Signature` header: screened and verified against a
//! body, whatever its bytes. Refused with an error, never a panic.
#![no_main]

use glbridge_guest::webhook::signature::{screen, sign, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The header is the input up to a NUL, the body the rest.
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"{}"[..]),
    };
    let header = String::from_utf8_lossy(header);
    let now = glbridge_fuzz::T0;
    let _ = screen(&header, now, 300);
    let _ = verify(glbridge_fuzz::KEY, &header, body, now, 300);
    // A header we made always verifies, whatever the body.
    let good = sign(glbridge_fuzz::KEY, now, body);
    assert!(verify(glbridge_fuzz::KEY, &good, body, now, 300).is_ok());
});
