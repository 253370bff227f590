//! The desk's order context and receipts (issue 12, items 1 and 7): "Refresh card" reads an
//! order's saved payment method again through the central, and the receipt's Copy and Print
//! buttons record in the journal that a receipt was given. One-line adapters over the terminal.
//!
//! Deliberately absent: the card's wording and the receipt's text (the UI's `card.ts` and
//! `receipt.ts`).

use paydesk_core::{AttemptId, OrderId};
use paydesk_journal::{ReceiptHow, StoredEvent};
use paydesk_terminal::ReceiptError;

use crate::desk::Desk;
use crate::error::{central_error, engine_error, UiError};
use crate::views::OrderView;

impl Desk {
    /// Reads `order`'s saved payment method at its gateway again; the order as it stands now.
    pub async fn refresh_card(&self, order: &str) -> Result<OrderView, UiError> {
        let (running, _) = self.signed_in()?;
        let order = OrderId::new(order).map_err(|_| {
            UiError::bad_input("That is not an order id.", "Pick the order from the queue.")
        })?;
        let order = running
            .terminal
            .refresh_card(&order)
            .await
            .map_err(|e| central_error(&e))?;
        Ok(OrderView::from(order))
    }

    /// Records that succeeded attempt `attempt`'s receipt was given (`how`: "copied" or
    /// "printed"); the journal event as stored.
    pub async fn receipt_given(&self, attempt: &str, how: &str) -> Result<StoredEvent, UiError> {
        let (running, _) = self.signed_in()?;
        let attempt = AttemptId::parse(attempt).map_err(|_| {
            UiError::bad_input(
                "That is not an attempt id.",
                "Give the receipt from the charge that succeeded.",
            )
        })?;
        let how = ReceiptHow::parse(how).ok_or_else(|| {
            UiError::bad_input(
                "A receipt is given by copying or printing it.",
                "Use the receipt's Copy or Print button.",
            )
        })?;
        let terminal = &running.terminal;
        terminal
            .record_receipt(attempt, how)
            .await
            .map_err(|e| match e {
                ReceiptError::NotSignedIn => UiError::bad_input(
                    "Nobody is signed in.",
                    "Sign in again; the receipt is recorded under your name.",
                ),
                ReceiptError::Engine(e) => engine_error(terminal.journal_path(), &e),
            })
    }
}
