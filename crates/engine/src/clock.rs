//! The engine's clock and its one source of chance: a clock trait so tests can hold time still or
//! jump it (to expire idempotency windows, leases and retry times) while the product reads the
//! system clock, and the relay's backoff jitter, seedable so a test sees the same retry times on
//! every run. Deliberately absent: any other randomness (ids come from `ids.rs`).

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use paydesk_core::Timestamp;

/// Where the engine gets "now" from. Every timestamp the engine writes comes from here.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            // A clock set before 1970 is a broken machine; 0 keeps ordering checks meaningful.
            .unwrap_or(0);
        Timestamp::from_unix_ms(ms)
    }
}

/// A clock that moves only when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now_ms: AtomicI64::new(start.unix_ms()),
        }
    }

    pub fn advance_ms(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_ms(self.now_ms.load(Ordering::SeqCst))
    }
}

/// The relay's source of backoff jitter: a pseudo-random generator, seeded from entropy in the
/// product and from a fixed seed in tests ([`crate::EngineConfig::jitter_seed`]).
#[derive(Debug)]
pub(crate) struct Jitter {
    rng: Mutex<fastrand::Rng>,
}

impl Jitter {
    pub(crate) fn new(seed: Option<u64>) -> Jitter {
        Jitter {
            rng: Mutex::new(seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed)),
        }
    }

    /// The next jitter draw, over the whole `u64` range (the core's backoff scales it).
    pub(crate) fn next_u64(&self) -> u64 {
        match self.rng.lock() {
            Ok(mut rng) => rng.u64(..),
            // A panic elsewhere while holding the lock left the generator as it was; it is
            // still a generator.
            Err(poisoned) => poisoned.into_inner().u64(..),
        }
    }
}
