//! Where "now" comes from. The daemon uses the system clock; tests use a
//! manual one they advance by hand, so escalation (minutes) and heartbeat
//! grace periods (hours) take milliseconds to test.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lookout_core::Millis;
use tokio::sync::Notify;

pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
    /// Resolve once `now() >= t` (or a little earlier; callers re-check).
    fn sleep_until(&self, t: Millis) -> Sleep<'_>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }

    fn sleep_until(&self, t: Millis) -> Sleep<'_> {
        // Sleep at most a minute at a time, so a wall-clock step (NTP,
        // suspend) is noticed within a minute.
        let d = t.saturating_sub(self.now()).min(60_000);
        Box::pin(tokio::time::sleep(Duration::from_millis(d)))
    }
}

/// A clock that moves only when told to.
pub struct ManualClock {
    now: Mutex<Millis>,
    moved: Notify,
}

impl ManualClock {
    pub fn new(start: Millis) -> Self {
        ManualClock {
            now: Mutex::new(start),
            moved: Notify::new(),
        }
    }

    pub fn advance(&self, ms: Millis) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) += ms;
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep_until(&self, t: Millis) -> Sleep<'_> {
        Box::pin(async move {
            loop {
                let moved = self.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if self.now() >= t {
                    return;
                }
                moved.await;
            }
        })
    }
}
