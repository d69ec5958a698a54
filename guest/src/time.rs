//! Timestamps: nanoseconds since the Unix epoch, RFC 3339 (UTC, `Z`) on the wire.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::OffsetDateTime;

/// Nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    /// From whole Unix seconds.
    pub fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Whole Unix seconds (rounded down).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// RFC 3339 in UTC with `Z`, e.g. `2023-10-23T17:24:50.804952Z`.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0))
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            // i64 nanoseconds always fall within time's range; keep a value anyway.
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    }

    /// Parses RFC 3339 with any offset.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        let t =
            OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("not RFC 3339 ({e}): {s:?}"))?;
        Self::from_datetime(t).ok_or_else(|| format!("out of range: {s:?}"))
    }

    /// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
    pub fn parse_http_date(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc2822)
            .ok()
            .and_then(Self::from_datetime)
    }

    fn from_datetime(t: OffsetDateTime) -> Option<Self> {
        i64::try_from(t.unix_timestamp_nanos()).ok().map(Timestamp)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z_and_round_trips() {
        let t = Timestamp(1_698_082_290_804_952_000);
        assert_eq!(t.to_rfc3339(), "2023-10-23T17:31:30.804952Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        assert_eq!(Timestamp::from_secs(0).to_rfc3339(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let t = Timestamp::parse_rfc3339("2023-10-23T18:24:50+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-10-23T17:24:50Z");
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn parses_http_dates() {
        let t = Timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.secs(), 784_111_777);
    }
}
