//! What a terminal keeps so operators can keep working while the central is down: the unpaid
//! queue as the central last sent it (`queue.json` in the data directory, so both front ends
//! share it), and the cached order an offline charge starts from.
//!
//! Deliberately absent: anything about people (`session.rs`) and the offline allowance
//! (`allowance.rs`).

use std::path::Path;

use paydesk_core::{CustomerId, OrderId, PaymentMethodId, Timestamp};
use paydesk_engine::{CachedOrder, CentralError, OrderSnapshot};
use paydesk_protocol::{Order, OrderPage, OrderStatus, PAGE_ROWS_MAX};
use serde::{Deserialize, Serialize};

use crate::central_http::HttpCentral;
use crate::files;

/// The queue cached for offline work.
pub const QUEUE_CACHE_FILE: &str = "queue.json";
/// Pages of the queue read at most: 10 × 200 orders is more than any person works through in a
/// shift; the bound keeps a runaway central from keeping us forever.
const QUEUE_PAGES_MAX: usize = 10;

/// A cached document and when the central sent it.
#[derive(Debug, Serialize, Deserialize)]
struct Cached<T> {
    fetched_at: Timestamp,
    #[serde(flatten)]
    value: T,
}

#[derive(Debug, Serialize, Deserialize)]
struct QueueFile {
    orders: Vec<Order>,
}

/// The unpaid orders, fresh from the central or, while it is unreachable, as last cached.
#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub orders: Vec<Order>,
    /// True when the central could not be reached and `orders` is the cached copy.
    pub offline: bool,
    /// When the cached copy was fetched (only when `offline`).
    pub cached_at: Option<Timestamp>,
    /// Why the central could not be reached (only when `offline`).
    pub offline_reason: Option<String>,
}

/// Why no queue could be shown.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the central is unreachable ({detail}) and no queue is cached yet")]
    UnreachableNoCache { detail: String },
    #[error("{0}")]
    Central(CentralError),
}

/// Reads every page of the desk's queue — unpaid orders, then orders waiting for their customer
/// (3-D Secure, issue 12 item 6: the desk shows them as "Waiting for customer", not gone) — and
/// caches it in `data_dir`; falls back to the cache when the central is unreachable. A failed
/// cache write is logged, not an error: the operator still gets the fresh queue.
pub async fn fetch_queue(
    client: &HttpCentral,
    data_dir: &Path,
    now: Timestamp,
) -> Result<Queue, QueueError> {
    fetch_queue_of(
        client,
        data_dir,
        now,
        &[OrderStatus::Unpaid, OrderStatus::NeedsAction],
    )
    .await
}

/// Every state an operator can charge from: unpaid, failed (declined) and needing action (3-D
/// Secure) — the `paydesk queue` list, in that order of states.
pub const ACTIONABLE_STATES: [OrderStatus; 3] = [
    OrderStatus::Unpaid,
    OrderStatus::Failed,
    OrderStatus::NeedsAction,
];

/// [`fetch_queue`] for the orders in `states` (each state's pages in turn), cached the same way.
pub async fn fetch_queue_of(
    client: &HttpCentral,
    data_dir: &Path,
    now: Timestamp,
    states: &[OrderStatus],
) -> Result<Queue, QueueError> {
    let cache = data_dir.join(QUEUE_CACHE_FILE);
    let mut orders = Vec::new();
    let pages = states
        .iter()
        .flat_map(|s| (0..QUEUE_PAGES_MAX).map(move |_| *s));
    let mut after: Option<String> = None;
    let (mut current, mut done) = (None, false);
    for status in pages {
        // Each state starts from its first page.
        if current != Some(status) {
            (current, after, done) = (Some(status), None, false);
        }
        if done {
            continue;
        }
        let state = status.as_str();
        let path = match &after {
            None => format!("/v1/orders?status={state}&limit={PAGE_ROWS_MAX}"),
            Some(a) => format!("/v1/orders?status={state}&limit={PAGE_ROWS_MAX}&after={a}"),
        };
        match client.get_json::<OrderPage>(&path).await {
            Ok(page) => {
                orders.extend(page.orders);
                match page.next_after {
                    Some(next) => after = Some(next.to_string()),
                    None => done = true,
                }
            }
            // A read changes nothing at the central: no answer in time is as good as none.
            Err(CentralError::Unreachable { detail } | CentralError::NoAnswer { detail }) => {
                return match files::read_json::<Cached<QueueFile>>(&cache) {
                    Some(cached) => Ok(Queue {
                        orders: cached.value.orders,
                        offline: true,
                        cached_at: Some(cached.fetched_at),
                        offline_reason: Some(detail),
                    }),
                    None => Err(QueueError::UnreachableNoCache { detail }),
                }
            }
            Err(e) => return Err(QueueError::Central(e)),
        }
    }
    let value = Cached {
        fetched_at: now,
        value: QueueFile { orders },
    };
    if let Err(e) = files::write_json(&cache, &value) {
        tracing::warn!(error = %e, "could not cache the queue for offline work");
    }
    Ok(Queue {
        orders: value.value.orders,
        offline: false,
        cached_at: None,
        offline_reason: None,
    })
}

/// The order as the cached queue shows it, with the queue's age and the order's last attempt
/// number, for an offline charge (the engine checks the amount the operator expects against it,
/// the cache's age against the allowance, and numbers the attempt after the last one).
pub fn cached_order(data_dir: &Path, order: &OrderId) -> Option<CachedOrder> {
    let cached = files::read_json::<Cached<QueueFile>>(&data_dir.join(QUEUE_CACHE_FILE))?;
    let fetched_at = cached.fetched_at;
    let o = cached
        .value
        .orders
        .into_iter()
        .find(|o| &o.order_id == order)?;
    let customer = match o.customer_id.as_str() {
        "" => None,
        id => Some(CustomerId::new(id).ok()?),
    };
    Some(CachedOrder {
        attempt_seq: o.attempt_seq,
        fetched_at,
        order: OrderSnapshot {
            id: o.order_id,
            amount: o.amount,
            status: o.status,
            customer,
            payment_method: PaymentMethodId::new(o.payment_method_id).ok()?,
            paid_minor: o.paid_minor,
        },
    })
}
