//! The order in context and the receipt, as a terminal does them (issue 12, items 1 and 7):
//! reading an order's saved payment method again through the central (which asks the gateway),
//! and recording in the journal that a succeeded attempt's receipt was copied or printed.
//!
//! Deliberately absent: any gateway call of the terminal's own (the central holds the key that
//! may read payment methods; a terminal's restricted key may not) and the receipt's text.

use paydesk_core::{AttemptId, OrderId};
use paydesk_engine::{CentralError, EngineError};
use paydesk_journal::{ReceiptHow, StoredEvent};
use paydesk_protocol::Order;

use crate::terminal::Terminal;

/// Why a receipt could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("nobody is signed in: a receipt is recorded under the signed-in operator")]
    NotSignedIn,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Terminal {
    /// Reads `order`'s saved payment method at its gateway again, through the central, in the
    /// signed-in person's session; answers the order as the central now has it.
    pub async fn refresh_card(&self, order: &OrderId) -> Result<Order, CentralError> {
        self.central()
            .post_in_session(
                &format!("/v1/orders/{order}/payment-method/refresh"),
                &serde_json::json!({}),
            )
            .await
    }

    /// Records that the receipt of succeeded attempt `attempt` was given (`how`: copied or
    /// printed), as a chained journal event naming the signed-in operator.
    pub async fn record_receipt(
        &self,
        attempt: AttemptId,
        how: ReceiptHow,
    ) -> Result<StoredEvent, ReceiptError> {
        let operator = self.signed_in().ok_or(ReceiptError::NotSignedIn)?.operator;
        let now = self.now();
        Ok(self
            .engine()
            .with_journal(move |j| j.record_receipt(&attempt, how, &operator, now))
            .await?)
    }
}
