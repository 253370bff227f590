//! Call counting: how many Stripe-style `/v1` requests the sandbox received, per API key and
//! endpoint class, so a bench can print "gateway calls per successful charge" and a test can see
//! that a client does not call more than it should.
//!
//! Every routed request with an accepted key counts once, whatever it was answered (a result, a
//! refusal, a replay, a 409, an injected 429 or dropped connection): each is a round trip the
//! client paid for. Keys are shown redacted as in the sandbox's errors (`sk_test_****ench`), so two
//! keys with the same first eight and last four characters share a row. `GET /admin/calls` reads
//! the counts, `DELETE /admin/calls` zeroes them, `/admin/reset` forgets them too.
//!
//! Deliberately absent: PayPal's paths (the PayPal ledger counts its requests), unknown URLs and
//! requests without an accepted key (nothing a client should count), timings, and persistence
//! (the counts live as long as the process).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::faults::Endpoint;
use crate::server::Shared;

/// Requests per (redacted key, endpoint class).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallCounts {
    counts: BTreeMap<(String, String), u64>,
}

impl CallCounts {
    /// Counts one request with `redacted_key` to `endpoint`.
    pub fn record(&mut self, redacted_key: &str, endpoint: Endpoint) {
        let name = endpoint_name(endpoint);
        *self
            .counts
            .entry((redacted_key.to_string(), name))
            .or_insert(0) += 1;
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// `{"total", "by_endpoint": {"create": n, …}, "calls": [{"key", "endpoint", "calls"}, …]}`.
    pub fn view(&self) -> Value {
        let mut by_endpoint: BTreeMap<&str, u64> = BTreeMap::new();
        for ((_, endpoint), n) in &self.counts {
            *by_endpoint.entry(endpoint).or_insert(0) += n;
        }
        let calls: Vec<Value> = self
            .counts
            .iter()
            .map(|((key, endpoint), n)| json!({ "key": key, "endpoint": endpoint, "calls": n }))
            .collect();
        json!({ "total": self.total(), "by_endpoint": by_endpoint, "calls": calls })
    }
}

/// The endpoint's name in the fault syntax (`create`, `confirm`, `retrieve`, …).
fn endpoint_name(endpoint: Endpoint) -> String {
    serde_json::to_value(endpoint)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{endpoint:?}").to_lowercase())
}

/// `GET /admin/calls`.
pub async fn get_calls(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().calls.view()).into_response()
}

/// `DELETE /admin/calls`: zeroes the counts and answers what they were.
pub async fn clear_calls(State(shared): State<Arc<Shared>>) -> Response {
    let before = std::mem::take(&mut shared.lock().calls);
    Json(before.view()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_endpoint() {
        let mut calls = CallCounts::default();
        calls.record("sk_test_****ench", Endpoint::Create);
        calls.record("sk_test_****ench", Endpoint::Confirm);
        calls.record("sk_test_****ench", Endpoint::Confirm);
        calls.record("sk_test_****bare", Endpoint::Create);
        assert_eq!(calls.total(), 4);
        let view = calls.view();
        assert_eq!(view["by_endpoint"], json!({ "confirm": 2, "create": 2 }));
        assert_eq!(
            view["calls"],
            json!([
                { "key": "sk_test_****bare", "endpoint": "create", "calls": 1 },
                { "key": "sk_test_****ench", "endpoint": "confirm", "calls": 2 },
                { "key": "sk_test_****ench", "endpoint": "create", "calls": 1 },
            ])
        );
    }
}
