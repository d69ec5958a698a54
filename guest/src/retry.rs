//! When and how long to wait before trying a request again.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::api_error;
use crate::http::{HttpResponse, TransportError};

/// API error codes worth another try.
pub const RETRYABLE_CODES: &[&str] = &[
    "unavailable",
    "deadline_exceeded",
    "aborted",
    "unknown",
    "internal",
];

/// How transient failures are retried (see the WIT `retry-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Total attempts including the first.
    pub max_attempts: u32,
    /// Back-off cap before the first retry, ms.
    pub initial_backoff_ms: u32,
    /// Upper bound of any back-off, ms.
    pub max_backoff_ms: u32,
    /// Upper bound of a `Retry-After` wait, ms.
    pub max_retry_after_ms: u32,
    /// Seed of the jitter stream.
    pub jitter_seed: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff_ms: 200,
            max_backoff_ms: 10_000,
            max_retry_after_ms: 30_000,
            jitter_seed: 0,
        }
    }
}

/// A seeded stream of uniform numbers in `[0, 1)`.
#[derive(Debug, Clone)]
pub struct Jitter(ChaCha8Rng);

impl Jitter {
    /// The stream for a seed.
    pub fn new(seed: u64) -> Self {
        Jitter(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The next number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        // 53 random bits give every representable step of [0, 1).
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl RetryPolicy {
    /// The back-off cap before retry number `retry` (1-based), in ms.
    pub fn backoff_cap_ms(&self, retry: u32) -> u64 {
        let doubling = 1u64
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u64::MAX);
        u64::from(self.initial_backoff_ms)
            .saturating_mul(doubling)
            .min(u64::from(self.max_backoff_ms))
    }

    /// How long to wait, in nanoseconds, after attempt `attempt` (1-based)
    /// ended with `outcome`; `None` means do not retry. `jitter` is uniform
    /// in `[0, 1)`.
    pub fn delay_ns(
        &self,
        idempotent: bool,
        attempt: u32,
        outcome: Result<&HttpResponse, &TransportError>,
        jitter: f64,
    ) -> Option<u64> {
        if !idempotent || attempt >= self.max_attempts {
            return None;
        }
        let retry_after = match outcome {
            Err(TransportError::InvalidUrl(_)) => return None,
            Err(TransportError::Timeout | TransportError::Connection(_)) => None,
            Ok(response) => {
                if !is_transient(response) {
                    return None;
                }
                response
                    .header("retry-after")
                    .and_then(parse_retry_after_secs)
            }
        };
        let ms = match retry_after {
            Some(secs) => secs
                .saturating_mul(1000)
                .min(u64::from(self.max_retry_after_ms)),
            None => {
                let cap = self.backoff_cap_ms(attempt) as f64;
                (cap * jitter.clamp(0.0, 1.0)) as u64
            }
        };
        Some(ms.saturating_mul(1_000_000))
    }
}

/// Whether an answer is a failure worth retrying: 429, or a 5xx whose code
/// (from the body, else derived from the status) is a retryable one.
pub fn is_transient(response: &HttpResponse) -> bool {
    match response.status {
        429 => true,
        500..=599 => RETRYABLE_CODES.contains(&api_error(response).code.as_str()),
        _ => false,
    }
}

/// `Retry-After` in delta-seconds. (HTTP-date values fall back to back-off.)
pub(crate) fn parse_retry_after_secs(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            max_retry_after_ms: 5000,
            jitter_seed: 7,
        }
    }

    #[test]
    fn caps_double_up_to_the_maximum() {
        let caps: Vec<u64> = (1..=6).map(|n| policy().backoff_cap_ms(n)).collect();
        assert_eq!(caps, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy().backoff_cap_ms(200), 1000);
    }

    #[test]
    fn full_jitter_scales_the_cap() {
        let p = policy();
        let t = TransportError::Timeout;
        assert_eq!(p.delay_ns(true, 1, Err(&t), 0.5), Some(50_000_000));
        assert_eq!(p.delay_ns(true, 3, Err(&t), 0.25), Some(100_000_000));
        assert_eq!(
            p.delay_ns(true, 5, Err(&t), 0.5),
            None,
            "attempts exhausted"
        );
        assert_eq!(p.delay_ns(false, 1, Err(&t), 0.5), None, "not idempotent");
        assert_eq!(
            p.delay_ns(true, 1, Err(&TransportError::InvalidUrl("x".into())), 0.5),
            None
        );
    }

    #[test]
    fn classifies_answers() {
        let p = policy();
        let unavailable = HttpResponse::json(503, r#"{"code":"unavailable","message":"busy"}"#);
        let precondition =
            HttpResponse::json(500, r#"{"code":"failed_precondition","message":"no"}"#);
        let bare_502 = HttpResponse {
            status: 502,
            ..Default::default()
        };
        let not_found = HttpResponse::json(404, r#"{"code":"not_found","message":"no"}"#);
        assert!(p.delay_ns(true, 1, Ok(&unavailable), 0.0).is_some());
        assert!(p.delay_ns(true, 1, Ok(&bare_502), 0.0).is_some());
        assert_eq!(p.delay_ns(true, 1, Ok(&precondition), 0.0), None);
        assert_eq!(p.delay_ns(true, 1, Ok(&not_found), 0.0), None);
    }

    #[test]
    fn honours_retry_after_up_to_its_cap() {
        let p = policy();
        let mut r = HttpResponse::json(
            429,
            r#"{"code":"resource_exhausted","message":"slow down"}"#,
        );
        r.headers.push(("Retry-After".into(), "3".into()));
        assert_eq!(p.delay_ns(true, 1, Ok(&r), 0.9), Some(3_000_000_000));
        r.headers[1].1 = "60".into();
        assert_eq!(p.delay_ns(true, 1, Ok(&r), 0.9), Some(5_000_000_000));
    }

    #[test]
    fn jitter_is_a_seeded_stream() {
        let a: Vec<f64> = {
            let mut j = Jitter::new(42);
            (0..5).map(|_| j.next_unit()).collect()
        };
        let mut j = Jitter::new(42);
        let b: Vec<f64> = (0..5).map(|_| j.next_unit()).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
        let mut other = Jitter::new(43);
        assert_ne!(a[0], other.next_unit());
    }
}
