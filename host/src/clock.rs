//! Clocks: the system's, and a fake one whose `sleep` only advances time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use glbridge_guest::env::Clock;
use glbridge_guest::Timestamp;

pub use glbridge_guest::testing::FakeClock;

/// Real time: `now` is the system clock, `sleep` blocks the thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
    }

    fn sleep(&self, nanos: u64) {
        std::thread::sleep(Duration::from_nanos(nanos));
    }
}
