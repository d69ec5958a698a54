//! `X-GradientLabs-Signature`: HMAC-SHA256 over `"<t>." + body`.

use crate::mac;

/// Default tolerance between the signature's `t` and now, in seconds.
pub const DEFAULT_LEEWAY_SECS: u32 = 300;

/// Longest signature header accepted.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum WebhookError {
    /// The header is unusable.
    #[error("malformed signature header: {0}")]
    MalformedHeader(String),
    /// No `v1` matched.
    #[error("signature does not match")]
    SignatureMismatch,
    /// `t` too far from now (`now - t`, seconds).
    #[error("signature timestamp is {0} s from now, outside the allowed leeway")]
    TimestampOutOfRange(i64),
    /// Authentic, but not a webhook envelope.
    #[error("not a webhook envelope: {0}")]
    InvalidEnvelope(String),
}

/// The header value for `body` signed at `timestamp_secs`: `t=<t>,v1=<hex>`.
pub fn sign(signing_key: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let t = timestamp_secs.to_string();
    format!("t={t},v1={}", hex::encode(mac::tag(signing_key, &t, body)))
}

/// A signature header, read: `t` as sent and as seconds, and every well-formed `v1`.
struct Header<'a> {
    t: &'a str,
    t_secs: i64,
    candidates: Vec<[u8; 32]>,
}

fn read_header(header: &str) -> Result<Header<'_>, WebhookError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(WebhookError::MalformedHeader(format!(
            "longer than {MAX_HEADER_BYTES} bytes"
        )));
    }
    // Header values are visible ASCII; anything else (a host hands on bytes
    // it could not decode as U+FFFD) cannot be a signature.
    if !header.is_ascii() {
        return Err(WebhookError::MalformedHeader("not ASCII".into()));
    }
    let mut timestamp: Option<&str> = None;
    let mut candidates: Vec<[u8; 32]> = Vec::new();
    let mut saw_v1 = false;
    let mut t_count = 0usize;
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" => {
                t_count += 1;
                timestamp = Some(value.trim());
            }
            "v1" => {
                saw_v1 = true;
                let value = value.trim();
                // A SHA-256 MAC is 32 bytes; anything else is malformed and skipped.
                let mut bytes = [0u8; 32];
                if hex::decode_to_slice(value, &mut bytes).is_ok() {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    if t_count > 1 {
        return Err(WebhookError::MalformedHeader("more than one t".into()));
    }
    let t = timestamp.ok_or_else(|| WebhookError::MalformedHeader("no t".into()))?;
    let t_secs: i64 = t
        .parse()
        .ok()
        .filter(|_| !t.starts_with('+'))
        .ok_or_else(|| WebhookError::MalformedHeader(format!("t is not a Unix time: {t:?}")))?;
    if !saw_v1 {
        return Err(WebhookError::MalformedHeader("no v1".into()));
    }
    Ok(Header {
        t,
        t_secs,
        candidates,
    })
}

fn check_window(t_secs: i64, now_secs: i64, leeway_secs: u32) -> Result<(), WebhookError> {
    let skew = now_secs.saturating_sub(t_secs);
    if skew.unsigned_abs() > u64::from(leeway_secs) {
        return Err(WebhookError::TimestampOutOfRange(skew));
    }
    Ok(())
}

/// What can be told from `header` alone, before the body is read: that it
/// is well formed and its timestamp inside the window. A host can refuse a
/// webhook that fails this without buffering its body.
pub fn screen(header: &str, now_secs: i64, leeway_secs: u32) -> Result<(), WebhookError> {
    let h = read_header(header)?;
    check_window(h.t_secs, now_secs, leeway_secs)
}

/// Checks `header` against the raw `body` (rules in the WIT `webhooks` docs).
pub fn verify(
    signing_key: &str,
    header: &str,
    body: &[u8],
    now_secs: i64,
    leeway_secs: u32,
) -> Result<(), WebhookError> {
    let h = read_header(header)?;
    let expected = mac::tag(signing_key, h.t, body);
    // Each candidate is compared in constant time.
    if !h.candidates.iter().any(|c| mac::same(&expected, c)) {
        return Err(WebhookError::SignatureMismatch);
    }
    check_window(h.t_secs, now_secs, leeway_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "FNHtU3KZpxF3GfKSZXCNkUkPnVSPQygbdNMLHuibkPY=";
    const T: i64 = 1_699_291_314;
    const BODY: &[u8] = br#"{"type":"foo.bar"}"#;
    const V1: &str = "05b3faa3377aea763b67a528813bcd7357581fa3f75dd7bf870a83986c6a425f";

    #[test]
    fn published_vector_signs_and_verifies() {
        assert_eq!(sign(KEY, T, BODY), format!("t={T},v1={V1}"));
        assert_eq!(verify(KEY, &format!("t={T},v1={V1}"), BODY, T, 300), Ok(()));
        let upper = format!("t={T},v1={}", V1.to_uppercase());
        assert_eq!(verify(KEY, &upper, BODY, T, 300), Ok(()));
    }

    #[test]
    fn tampering_wrong_key_and_time_are_refused() {
        let h = format!("t={T},v1={V1}");
        assert_eq!(
            verify(KEY, &h, br#"{"type":"foo.baz"}"#, T, 300),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            verify("other", &h, BODY, T, 300),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            verify(KEY, &h, BODY, T + 301, 300),
            Err(WebhookError::TimestampOutOfRange(301))
        );
        assert_eq!(
            verify(KEY, &h, BODY, T - 301, 300),
            Err(WebhookError::TimestampOutOfRange(-301))
        );
        assert_eq!(verify(KEY, &h, BODY, T + 300, 300), Ok(()));
        assert_eq!(verify(KEY, &h, BODY, T + 3600, 7200), Ok(()));
    }

    #[test]
    fn any_v1_may_match_and_malformed_ones_are_skipped() {
        let h = format!("t={T},v1=zz,v1={},v0=abc,v1={V1}", "0".repeat(64));
        assert_eq!(verify(KEY, &h, BODY, T, 300), Ok(()));
        let h = format!("v1={V1}, t={T}");
        assert_eq!(verify(KEY, &h, BODY, T, 300), Ok(()));
    }

    #[test]
    fn screening_tells_format_and_window_without_the_body() {
        let h = format!("t={T},v1={V1}");
        assert_eq!(screen(&h, T, 300), Ok(()));
        // A wrong signature passes the screen: only the body can tell.
        assert_eq!(
            screen(&format!("t={T},v1={}", "0".repeat(64)), T, 300),
            Ok(())
        );
        assert_eq!(
            screen(&h, T + 301, 300),
            Err(WebhookError::TimestampOutOfRange(301))
        );
        for bad in [format!("v1={V1}"), format!("t={T}"), "t=1,v1=\u{e9}".into()] {
            assert!(
                matches!(screen(&bad, T, 300), Err(WebhookError::MalformedHeader(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_headers() {
        let cases = [
            format!("v1={V1}"),
            format!("t={T},t={T},v1={V1}"),
            format!("t=soon,v1={V1}"),
            format!("t={T}"),
            format!("t={T},v0={V1}"),
            format!("t={T},v1={V1},{}", "x".repeat(MAX_HEADER_BYTES)),
            format!("t={T},v1={V1},v1=\u{e9}"),
            String::new(),
        ];
        for h in cases {
            assert!(
                matches!(
                    verify(KEY, &h, BODY, T, 300),
                    Err(WebhookError::MalformedHeader(_))
                ),
                "{h:.60}"
            );
        }
    }
}
