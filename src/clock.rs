//! The only source of "now" in sealq.
//!
//! Every timer (visibility timeouts, delays, retention, purge windows, and
//! later data-key reuse periods and key-deletion windows) reads [`Clock::now_ms`]
//! and waits with [`Clock::sleep_until`]. A clock is either the system clock
//! plus an offset that only grows (what the server runs on, so that
//! `POST /_sealq/clock` can move it forward), or a manual clock that stands
//! still until advanced (unit tests). Nothing else in the crate may read
//! `SystemTime` or `Instant` for domain time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// Where a clock's base time comes from.
#[derive(Debug)]
enum Base {
    /// Wall-clock time.
    System,
    /// A fixed instant (epoch milliseconds).
    Manual(u64),
}

/// A clock that can be advanced; see the module docs.
#[derive(Debug)]
pub struct Clock {
    base: Base,
    offset_ms: AtomicU64,
    advanced: Notify,
}

impl Clock {
    /// The system clock, advanceable.
    pub fn system() -> Self {
        Self {
            base: Base::System,
            offset_ms: AtomicU64::new(0),
            advanced: Notify::new(),
        }
    }

    /// A clock frozen at `start_ms` (epoch milliseconds) until advanced.
    pub fn manual(start_ms: u64) -> Self {
        Self {
            base: Base::Manual(start_ms),
            offset_ms: AtomicU64::new(0),
            advanced: Notify::new(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let base = match self.base {
            Base::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            Base::Manual(ms) => ms,
        };
        base.saturating_add(self.offset_ms.load(Ordering::Acquire))
    }

    /// How far the clock has been moved forward in total (what a data
    /// directory keeps across restarts).
    pub fn offset_ms(&self) -> u64 {
        self.offset_ms.load(Ordering::Acquire)
    }

    /// Moves the clock forward by `ms` milliseconds and wakes every sleeper,
    /// so timers that have come due fire at once.
    pub fn advance(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::AcqRel);
        self.advanced.notify_waiters();
    }

    /// Waits until `now_ms() >= deadline_ms`, following both real time and
    /// advances of the clock.
    pub async fn sleep_until(&self, deadline_ms: u64) {
        loop {
            // Register for advance notifications before reading the time, so
            // an advance between the read and the wait is not lost.
            let advanced = self.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            let now = self.now_ms();
            if now >= deadline_ms {
                return;
            }
            match self.base {
                Base::System => {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(deadline_ms - now)) => {}
                        () = &mut advanced => {}
                    }
                }
                Base::Manual(_) => advanced.await,
            }
        }
    }
}

/// A UTC civil time: year, month, day, hour, minute, second.
pub type Civil = (u64, u64, u64, u64, u64, u64);

/// The UTC civil time of `secs` seconds since the Unix epoch (Howard
/// Hinnant's days-to-civil algorithm), for the timestamp formats of the
/// admin API, STS and SigV4.
pub fn civil_from_secs(secs: u64) -> Civil {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian).
pub fn rfc3339(ms: u64) -> String {
    let (year, month, day, hour, minute, second) = crate::clock::civil_from_secs(ms / 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{:03}Z",
        ms % 1000
    )
}

/// Days from 1970-01-01 to a civil date (years from 1970 on; earlier dates
/// give 0), for SigV4's `X-Amz-Date` and IAM's date conditions.
pub fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40.000Z");
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
    }

    #[tokio::test]
    async fn sleepers_wake_when_the_clock_is_advanced_past_their_deadline() {
        let c = Arc::new(Clock::manual(0));
        let c2 = c.clone();
        let t = tokio::spawn(async move { c2.sleep_until(10_000).await });
        tokio::task::yield_now().await;
        c.advance(5_000);
        tokio::task::yield_now().await;
        assert!(!t.is_finished());
        c.advance(5_000);
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn system_clock_sleeps_in_real_time_or_until_advanced() {
        let c = Clock::system();
        let deadline = c.now_ms() + 3_600_000;
        let fut = c.sleep_until(deadline);
        tokio::pin!(fut);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut fut)
                .await
                .is_err()
        );
        c.advance(3_600_000);
        tokio::time::timeout(Duration::from_secs(5), fut).await.unwrap();
    }
}
