//! `X-Chatwoot-Signature`: `sha256=` + hex HMAC-SHA256 (bot secret) over
//! `"<X-Chatwoot-Timestamp>." + body`, within a timestamp window.

use crate::mac;

/// Default window between `X-Chatwoot-Timestamp` and now, in seconds.
pub const DEFAULT_WINDOW_SECS: u32 = 300;

/// Longest header value looked at.
const MAX_HEADER_BYTES: usize = 512;

/// Why an event's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header is unusable.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// The MAC does not match.
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp is `now - t` seconds away from now.
    #[error("timestamp is {0} s from now, outside the window")]
    Stale(i64),
}

/// The `X-Chatwoot-Signature` value for `body` sent at `timestamp_secs`.
pub fn sign(secret: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let tag = mac::tag(secret, &timestamp_secs.to_string(), body);
    format!("sha256={}", hex::encode(tag))
}

fn timestamp(header: Option<&str>) -> Result<(&str, i64), SignatureError> {
    const NAME: &str = "X-Chatwoot-Timestamp";
    let t = header.ok_or(SignatureError::Missing(NAME))?.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed(NAME));
    }
    let secs = t.parse().map_err(|_| SignatureError::Malformed(NAME))?;
    Ok((t, secs))
}

fn within(t_secs: i64, now_secs: i64, window_secs: u32) -> Result<(), SignatureError> {
    let skew = now_secs.saturating_sub(t_secs);
    if skew.unsigned_abs() > u64::from(window_secs) {
        return Err(SignatureError::Stale(skew));
    }
    Ok(())
}

/// What the headers alone tell, before the body is read: both present and
/// well formed, the timestamp inside the window.
pub fn screen(
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    now_secs: i64,
    window_secs: u32,
) -> Result<(), SignatureError> {
    let (_, t_secs) = timestamp(timestamp_header)?;
    tag_of(signature_header)?;
    within(t_secs, now_secs, window_secs)
}

fn tag_of(header: Option<&str>) -> Result<[u8; 32], SignatureError> {
    const NAME: &str = "X-Chatwoot-Signature";
    let value = header.ok_or(SignatureError::Missing(NAME))?.trim();
    if value.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed(NAME));
    }
    let hex_part = value
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed(NAME))?;
    let mut tag = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut tag).map_err(|_| SignatureError::Malformed(NAME))?;
    Ok(tag)
}

/// Checks an event's headers against its raw body: the MAC (compared in
/// constant time) first, then the window.
pub fn verify(
    secret: &str,
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_secs: i64,
    window_secs: u32,
) -> Result<(), SignatureError> {
    let (t, t_secs) = timestamp(timestamp_header)?;
    let candidate = tag_of(signature_header)?;
    if !mac::same(&mac::tag(secret, t, body), &candidate) {
        return Err(SignatureError::Mismatch);
    }
    within(t_secs, now_secs, window_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "cw_secret";
    const T: i64 = 1_795_000_000;
    const BODY: &[u8] = br#"{"event":"message_created"}"#;

    fn check(
        t: Option<&str>,
        sig: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify(SECRET, t, sig, body, now, DEFAULT_WINDOW_SECS)
    }

    #[test]
    fn a_signed_event_verifies_and_matches_an_independent_hmac() {
        let sig = sign(SECRET, T, BODY);
        // `printf '1795000000.{"event":"message_created"}' | openssl dgst -sha256 -hmac cw_secret`
        assert_eq!(
            sig,
            "sha256=ba22d7b6f74b15196453f10506f57062336b9b470a84623d43b0091807719093"
        );
        let t = T.to_string();
        assert_eq!(check(Some(&t), Some(&sig), BODY, T), Ok(()));
        assert_eq!(
            check(
                Some(&t),
                Some(&sig.to_uppercase().replace("SHA256=", "sha256=")),
                BODY,
                T
            ),
            Ok(())
        );
    }

    #[test]
    fn tampered_wrong_secret_missing_and_malformed_are_refused() {
        let t = T.to_string();
        let sig = sign(SECRET, T, BODY);
        assert_eq!(
            check(Some(&t), Some(&sig), br#"{"event":"message_updated"}"#, T),
            Err(SignatureError::Mismatch)
        );
        let other = sign("other", T, BODY);
        assert_eq!(
            check(Some(&t), Some(&other), BODY, T),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the MAC.
        let later = (T + 1).to_string();
        assert_eq!(
            check(Some(&later), Some(&sig), BODY, T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(None, Some(&sig), BODY, T),
            Err(SignatureError::Missing("X-Chatwoot-Timestamp"))
        );
        assert_eq!(
            check(Some(&t), None, BODY, T),
            Err(SignatureError::Missing("X-Chatwoot-Signature"))
        );
        for bad in ["", "sha256=zz", "sha1=00", &sig[7..], "sha256=00"] {
            assert_eq!(
                check(Some(&t), Some(bad), BODY, T),
                Err(SignatureError::Malformed("X-Chatwoot-Signature")),
                "{bad:?}"
            );
        }
        for bad in ["", "-5", "+5", "1.5", "12345678901234567890123"] {
            assert_eq!(
                check(Some(bad), Some(&sig), BODY, T),
                Err(SignatureError::Malformed("X-Chatwoot-Timestamp")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_window_is_inclusive_and_configurable() {
        let t = T.to_string();
        let sig = sign(SECRET, T, BODY);
        assert_eq!(check(Some(&t), Some(&sig), BODY, T + 300), Ok(()));
        assert_eq!(check(Some(&t), Some(&sig), BODY, T - 300), Ok(()));
        assert_eq!(
            check(Some(&t), Some(&sig), BODY, T + 301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check(Some(&t), Some(&sig), BODY, T - 301),
            Err(SignatureError::Stale(-301))
        );
        assert_eq!(
            verify(SECRET, Some(&t), Some(&sig), BODY, T + 3_000, 3_600),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some(&t), Some(&sig), BODY, T + 61, 60),
            Err(SignatureError::Stale(61))
        );
        assert_eq!(
            screen(Some(&t), Some(&sig), T + 301, 300),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(screen(Some(&t), Some(&sig), T, 300), Ok(()));
    }
}
