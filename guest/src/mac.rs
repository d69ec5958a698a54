//! HMAC-SHA256 over `"<timestamp>." + body`: how the AI-agent API signs its
//! webhooks and how Chatwoot signs its agent-bot events.

use std::cell::RefCell;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Keys whose keyed state is kept (one per helpdesk and the API).
const KEPT: usize = 4;

thread_local! {
    /// The keyed state (inner and outer pads already hashed) of the last
    /// keys used: a handful of keys sign everything a bridge receives, and
    /// keeping them saves two of the ~20 SHA-256 blocks a 1 KiB body costs.
    static KEYED: RefCell<Vec<(String, HmacSha256)>> = const { RefCell::new(Vec::new()) };
}

fn keyed(key: &str) -> HmacSha256 {
    let fresh = || {
        // HMAC takes keys of any length, so this cannot fail; fall back to
        // an empty key rather than panic.
        HmacSha256::new_from_slice(key.as_bytes())
            .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
    };
    KEYED.with(|cell| {
        let Ok(mut kept) = cell.try_borrow_mut() else {
            return fresh();
        };
        if let Some((_, mac)) = kept.iter().find(|(k, _)| k == key) {
            return mac.clone();
        }
        let mac = fresh();
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((key.to_owned(), mac.clone()));
        mac
    })
}

/// The tag of `timestamp + "." + body` under `key`.
pub fn tag(key: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Whether `expected` equals `candidate`, compared in constant time.
pub fn same(expected: &[u8; 32], candidate: &[u8; 32]) -> bool {
    bool::from(expected.as_slice().ct_eq(candidate.as_slice()))
}
