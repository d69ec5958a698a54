//! Webhooks: signatures, events, and the sequencer that orders them.

pub mod event;
pub mod sequencer;
pub mod signature;

pub use event::{parse, EventData, RawJson, WebhookEvent};
pub use signature::{screen, sign, verify, WebhookError, DEFAULT_LEEWAY_SECS};

/// Verifies the signature over the raw body, then parses it.
pub fn verify_and_parse(
    signing_key: &str,
    header: &str,
    token: Option<&str>,
    body: &[u8],
    now_secs: i64,
    leeway_secs: u32,
) -> Result<WebhookEvent, WebhookError> {
    verify(signing_key, header, body, now_secs, leeway_secs)?;
    parse(body, token)
}
