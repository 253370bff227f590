//! The manager's exception inbox as a terminal builds it, written once for the command line and
//! the desktop: the central's items (`GET /v1/exceptions`: orders in review, flags, stale tokens,
//! claims held past their lease, refunds and reversals pending or failed, refunds made outside
//! Paydesk) read into types, and this terminal's own items from its journal (attempts in review
//! or of unknown outcome, parked outbox messages) in the same shape, so a front end shows one
//! list.
//!
//! Deliberately absent: HTTP (the caller fetches the central's page in the manager's session),
//! wording for people (each front end words the kinds), and any decision on an item (the central
//! decides a resolution; a manager retries or archives a parked message through [`Terminal`]).
//!
//! [`Terminal`]: crate::Terminal

use paydesk_core::AttemptState;
use paydesk_journal::{Journal, JournalError, OutboxListing};
use paydesk_protocol::manager::ExceptionItem;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The most central items one inbox read asks for (the central's page cap).
pub const CENTRAL_ITEMS_MAX: u32 = 500;
/// The most parked outbox messages listed.
pub const PARKED_MAX: u32 = 500;
/// The central's inbox path, with the page size.
pub fn exceptions_path() -> String {
    format!("/v1/exceptions?limit={CENTRAL_ITEMS_MAX}")
}

/// Where an item was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum InboxSource {
    /// At the central (every terminal's, and the gateway's).
    Central,
    /// In this terminal's journal.
    Terminal,
}

/// One thing that needs a manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InboxItem {
    /// The central's kinds: `needs_review`, `unresolved_claim`, `flag`, `stale_token`,
    /// `dropped_results`, `refund_pending`, `refund_failed`, `reversal_pending`,
    /// `reversal_failed`, `outside_refund`; this terminal's: `attempt_unknown`,
    /// `attempt_needs_review`, `parked_message`.
    pub kind: String,
    /// Unique within its source (`flag:7`, `attempt:<uuid>`, `outbox:12`).
    pub item_id: String,
    pub order_id: Option<String>,
    /// Since when it needs a person (Unix milliseconds).
    #[ts(type = "number")]
    pub since_ms: i64,
    /// The central's or the journal's one-line account (technical; each front end adds words).
    pub summary: String,
    /// Ids that back it: attempt, intent, refund, flag, outbox message.
    pub evidence: Vec<String>,
    pub source: InboxSource,
    /// This terminal's attempt, for its own items (`attempt_*`, `parked_message`).
    pub attempt_id: Option<String>,
    /// The outbox message, for `parked_message`.
    #[ts(type = "number | null")]
    pub outbox_id: Option<i64>,
    /// The central says a reason alone may close it (no money effect).
    pub acknowledgeable: bool,
    /// The gateway the order goes through, when the central knows it (`None` for this
    /// terminal's own items and from an older central).
    #[serde(default)]
    pub gateway: Option<paydesk_protocol::GatewayName>,
}

impl From<ExceptionItem> for InboxItem {
    fn from(item: ExceptionItem) -> InboxItem {
        InboxItem {
            kind: item.kind.as_str().to_string(),
            item_id: item.item_id,
            order_id: item.order_id,
            since_ms: item.since_ms,
            summary: item.summary,
            evidence: item.evidence,
            source: InboxSource::Central,
            attempt_id: None,
            outbox_id: None,
            acknowledgeable: item.acknowledgeable,
            gateway: item.gateway,
        }
    }
}

/// This terminal's own exceptions from its journal, oldest first within each kind: attempts in
/// review or of unknown outcome, then parked outbox messages.
pub fn local_items(journal: &Journal) -> Result<Vec<InboxItem>, JournalError> {
    let mut items = Vec::new();
    for a in journal.unresolved()? {
        if !matches!(a.state, AttemptState::Unknown | AttemptState::NeedsReview) {
            continue;
        }
        let intent = a.intent_id.as_ref().map(|i| i.to_string());
        items.push(InboxItem {
            kind: format!("attempt_{}", a.state.as_str()),
            item_id: format!("attempt:{}", a.id),
            order_id: Some(a.order.as_str().to_string()),
            since_ms: a.updated_at.unix_ms(),
            summary: format!(
                "attempt {} of {} is {} on this terminal{}",
                a.number.get(),
                a.amount,
                a.state.as_str(),
                intent
                    .as_ref()
                    .map(|i| format!(" (intent {i})"))
                    .unwrap_or_default()
            ),
            evidence: std::iter::once(a.id.to_string()).chain(intent).collect(),
            source: InboxSource::Terminal,
            attempt_id: Some(a.id.to_string()),
            outbox_id: None,
            acknowledgeable: false,
            gateway: None,
        });
    }
    for m in journal.outbox_list(OutboxListing::Parked, PARKED_MAX)? {
        items.push(InboxItem {
            kind: "parked_message".into(),
            item_id: format!("outbox:{}", m.id),
            order_id: m.payload["order"].as_str().map(str::to_string),
            since_ms: m.created_at.unix_ms(),
            summary: format!(
                "outbox message {} parked: {}",
                m.id,
                m.parked_reason.as_deref().unwrap_or("?")
            ),
            evidence: vec![format!("outbox:{}", m.id), m.attempt_id.to_string()],
            source: InboxSource::Terminal,
            attempt_id: Some(m.attempt_id.to_string()),
            outbox_id: Some(m.id),
            acknowledgeable: false,
            gateway: None,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use paydesk_protocol::manager::ExceptionList;

    #[test]
    fn a_central_item_becomes_an_inbox_item_with_its_kind_and_source() {
        let page: ExceptionList = serde_json::from_value(serde_json::json!({
            "total": 1, "counts": {"flag": 1}, "next_cursor": null,
            "items": [{"kind": "flag", "item_id": "flag:3", "order_id": "o-1",
                "since": "2026-01-01T00:00:00Z", "since_ms": 5, "age_ms": 9,
                "summary": "second success (sweeper)", "evidence": ["flag:3"],
                "acknowledgeable": true}],
        }))
        .unwrap();
        let item = InboxItem::from(page.items[0].clone());
        assert_eq!(item.kind, "flag");
        assert_eq!(item.source, InboxSource::Central);
        assert_eq!(item.attempt_id, None);
        assert!(item.acknowledgeable);
    }
}
