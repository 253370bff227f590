//! When the customer must act (issue 12, item 6): the desk's view of the orders waiting for their
//! customer, and the operator's two actions on one — send a payment link (shown once, with Copy
//! and Open on the screen) or record that the customer was contacted. Each is one call to the
//! central in the signed-in person's session; the central reads the gateway and decides.
//!
//! Deliberately absent: any gateway call, and marking anything paid (the central learns that from
//! the gateway's webhook or its sweeper, never from this desk).

use paydesk_core::OrderId;
use paydesk_engine::CentralError;
use paydesk_protocol::customer::{ContactRecord, ContactRequest, CustomerWaitList, PaymentLink};

use crate::desk::Desk;
use crate::error::{UiError, UiErrorKind};
use crate::manager::manager_error;

/// A contact note's longest length, as the central checks it.
const CONTACT_NOTE_CHARS_MAX: usize = 500;

fn order_id(order: &str) -> Result<OrderId, UiError> {
    OrderId::new(order).map_err(|_| {
        UiError::bad_input("That is not an order id.", "Pick the order from the queue.")
    })
}

/// The central's refusal in an operator's words: what did not happen and what to do.
fn operator_error(error: &CentralError, nothing: &str) -> UiError {
    let mut ui = manager_error(error, nothing);
    match ui.kind {
        UiErrorKind::NotSignedIn => {
            ui.next_step = "Sign in again with your id and PIN.".into();
        }
        UiErrorKind::CentralRefused => {
            ui.next_step = "Reload the queue and look at the order again.".into();
        }
        _ => {}
    }
    ui
}

impl Desk {
    /// The orders waiting for their customer, oldest wait first (for the queue's labels).
    pub async fn customer_waits(&self) -> Result<CustomerWaitList, UiError> {
        let (running, _) = self.signed_in()?;
        running
            .terminal
            .central()
            .get_json_in_session::<CustomerWaitList>("/v1/customer-waits")
            .await
            .map_err(|e| operator_error(&e, "the waiting orders could not be read"))
    }

    /// Sends a payment link for `order`: the link is answered once, for the operator to copy.
    pub async fn send_payment_link(&self, order: &str) -> Result<PaymentLink, UiError> {
        let (running, _) = self.signed_in()?;
        let order = order_id(order)?;
        running
            .terminal
            .central()
            .post_in_session::<_, PaymentLink>(
                &format!("/v1/orders/{order}/payment-link"),
                &serde_json::json!({}),
            )
            .await
            .map_err(|e| operator_error(&e, "no link was made"))
    }

    /// Records that the customer of `order` was contacted, with an optional note.
    pub async fn mark_customer_contacted(
        &self,
        order: &str,
        note: &str,
    ) -> Result<ContactRecord, UiError> {
        let (running, _) = self.signed_in()?;
        let order = order_id(order)?;
        let note = note.trim();
        if note.chars().count() > CONTACT_NOTE_CHARS_MAX {
            return Err(UiError::bad_input(
                format!("The note is longer than {CONTACT_NOTE_CHARS_MAX} characters."),
                "Shorten it to a few words.",
            ));
        }
        running
            .terminal
            .central()
            .post_in_session::<_, ContactRecord>(
                &format!("/v1/orders/{order}/customer-contacted"),
                &ContactRequest {
                    note: note.to_string(),
                },
            )
            .await
            .map_err(|e| operator_error(&e, "nothing was recorded"))
    }
}
