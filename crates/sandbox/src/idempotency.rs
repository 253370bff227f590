//! Stripe's idempotency rules, as a plain data structure driven with the sandbox's clock.
//!
//! The first response under a key is stored and replayed verbatim (a 500 included); the same key
//! with other parameters is an `idempotency_error`; the same key while its first request is still
//! executing is `idempotency_key_in_use`; stored results are pruned 24 hours after the first
//! request. This module does no I/O and never reads the clock: `now_ms` comes in.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Stripe keeps keys "for at least 24 hours"; the sandbox prunes at exactly 24 hours so that a
/// test can jump the clock past it and see a reused key execute again.
pub const IDEMPOTENCY_KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Stripe refuses keys longer than 255 characters.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;

/// A response stored under a key, replayed on every later request with that key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Serialize, Deserialize)]
enum RecordState {
    /// The first request is executing; a concurrent retry gets 409.
    InFlight,
    Done(StoredResponse),
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// Method, path and canonical parameters of the first request: what "same request" means.
    fingerprint: String,
    /// Sandbox-clock time of the first request; the TTL counts from here.
    first_seen_ms: i64,
    state: RecordState,
}

/// How often a key was used: ground truth for system tests ("did the client reuse its key?").
/// Kept after the stored response is pruned, until an admin reset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyUsage {
    /// Every POST that carried the key.
    pub requests: u64,
    /// Requests answered from the stored response.
    pub replays: u64,
    /// Requests that started a fresh execution (1, or more after expiry or a released key).
    pub executions: u64,
    /// Requests refused because the first one was still in flight (409).
    pub conflicts: u64,
    /// Requests refused because their parameters differed (400 idempotency_error).
    pub mismatches: u64,
    /// The method and path the key was first used with.
    pub first_request: String,
}

/// What to do with an incoming request that carries a key.
#[derive(Debug)]
pub enum Begin {
    /// Execute it; the key is now in flight and must be finished or released.
    Fresh,
    Replay(StoredResponse),
    Mismatch,
    InUse,
}

/// All keys the sandbox remembers (saved in the state file, see `persist.rs`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct IdempotencyStore {
    records: HashMap<String, Record>,
    usage: BTreeMap<String, KeyUsage>,
}

impl IdempotencyStore {
    /// Registers a request under `key` and says whether to execute, replay or refuse it.
    pub fn begin(&mut self, key: &str, request: &str, fingerprint: &str, now_ms: i64) -> Begin {
        self.prune(now_ms);
        let usage = self.usage.entry(key.to_string()).or_default();
        usage.requests += 1;
        if usage.first_request.is_empty() {
            usage.first_request = request.to_string();
        }
        match self.records.get(key) {
            None => {
                usage.executions += 1;
                self.records.insert(
                    key.to_string(),
                    Record {
                        fingerprint: fingerprint.to_string(),
                        first_seen_ms: now_ms,
                        state: RecordState::InFlight,
                    },
                );
                Begin::Fresh
            }
            // Stripe compares parameters before looking at the state: a different request under
            // a busy key is still a mismatch, not a conflict.
            Some(r) if r.fingerprint != fingerprint => {
                usage.mismatches += 1;
                Begin::Mismatch
            }
            Some(Record {
                state: RecordState::InFlight,
                ..
            }) => {
                usage.conflicts += 1;
                Begin::InUse
            }
            Some(Record {
                state: RecordState::Done(stored),
                ..
            }) => {
                usage.replays += 1;
                Begin::Replay(stored.clone())
            }
        }
    }

    /// Stores the first response under the key, to be replayed from now on.
    pub fn finish(&mut self, key: &str, response: StoredResponse) {
        if let Some(r) = self.records.get_mut(key) {
            r.state = RecordState::Done(response);
        }
    }

    /// Forgets an in-flight key whose request never started executing (invalid parameters, a
    /// connection dropped before execution): Stripe saves no result for those, so a retry runs.
    pub fn release(&mut self, key: &str) {
        if matches!(
            self.records.get(key),
            Some(Record {
                state: RecordState::InFlight,
                ..
            })
        ) {
            self.records.remove(key);
        }
    }

    /// Forgets keys whose first request was still executing when the state was saved: after a
    /// restart nothing is executing, and no answer was given under them, so a retry runs afresh.
    pub fn forget_in_flight(&mut self) {
        self.records
            .retain(|_, r| !matches!(r.state, RecordState::InFlight));
    }

    /// Drops stored responses older than the TTL. In-flight keys are never pruned.
    pub fn prune(&mut self, now_ms: i64) {
        self.records.retain(|_, r| {
            matches!(r.state, RecordState::InFlight)
                || now_ms.saturating_sub(r.first_seen_ms) < IDEMPOTENCY_KEY_TTL_MS
        });
    }

    /// Usage per key, for the ledger.
    pub fn usage(&self) -> &BTreeMap<String, KeyUsage> {
        &self.usage
    }

    /// Whether a response is currently stored (not pruned) under the key.
    pub fn is_stored(&self, key: &str) -> bool {
        matches!(
            self.records.get(key),
            Some(Record {
                state: RecordState::Done(_),
                ..
            })
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replay_mismatch_in_use_and_expiry() {
        let mut s = IdempotencyStore::default();
        assert!(matches!(s.begin("k", "POST /x", "a", 0), Begin::Fresh));
        assert!(matches!(s.begin("k", "POST /x", "a", 1), Begin::InUse));
        assert!(matches!(s.begin("k", "POST /x", "b", 1), Begin::Mismatch));
        s.finish(
            "k",
            StoredResponse {
                status: 500,
                body: json!({}),
            },
        );
        match s.begin("k", "POST /x", "a", 2) {
            Begin::Replay(r) => assert_eq!(r.status, 500),
            other => panic!("expected a replay, got {other:?}"),
        }
        assert!(matches!(
            s.begin("k", "POST /x", "a", IDEMPOTENCY_KEY_TTL_MS),
            Begin::Fresh
        ));
        let u = &s.usage()["k"];
        assert_eq!(
            (
                u.requests,
                u.replays,
                u.executions,
                u.conflicts,
                u.mismatches
            ),
            (5, 1, 2, 1, 1)
        );
    }

    #[test]
    fn released_key_runs_again() {
        let mut s = IdempotencyStore::default();
        assert!(matches!(s.begin("k", "POST /x", "a", 0), Begin::Fresh));
        s.release("k");
        assert!(matches!(s.begin("k", "POST /x", "b", 0), Begin::Fresh));
    }
}
