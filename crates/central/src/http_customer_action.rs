//! When the customer must act (3-D Secure): an operator sends a payment link for the order's
//! waiting intent, or records that the customer was contacted; the desk lists who waits.
//!
//! - `POST /v1/orders/{order_id}/payment-link` (an operator or manager session): reads the
//!   order's open intent LIVE at the gateway; only an intent in `requires_action` with a redirect
//!   url (Stripe's `next_action.redirect_to_url.url`) gets a link. The link is
//!   `{the central's address}/pay/{token}`: the token is 32 random bytes, and only its SHA-256 is
//!   stored. A newer link replaces the older; a link expires once the order is paid, once the
//!   order stops waiting on that intent, or after [`PAYMENT_LINK_TTL_MS`].
//! - `POST /v1/orders/{order_id}/customer-contacted` records who contacted the customer, when,
//!   and an optional note.
//! - `GET /v1/customer-waits` lists the orders waiting for their customer.
//! - `GET /pay/{token}` is the customer's page (no session: the token is the only key). A live
//!   link shows the amount and a button to the gateway's authentication page; any other says
//!   plainly why the link no longer works.
//!
//! The central never takes the customer's or the page's word for a payment: the order becomes
//! paid by the gateway's signed webhook or the sweeper's look-up, as any other success.
//! Deliberately absent: SQL (`store::customer_actions`) and any state change at the gateway.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use paydesk_core::{GatewayIntentId, IntentStatus, OrderId, Timestamp};
use paydesk_protocol::customer::{
    ContactRecord, ContactRequest, CustomerWait as CustomerWaitView, CustomerWaitList, PaymentLink,
};
use paydesk_protocol::OrderStatus;
use rand::RngCore;

use crate::clock;
use crate::error::CentralError;
use crate::http::{ApiJson, AppState};
use crate::http_auth::{AuthError, OperatorSession};
use crate::store::{LinkState, NewCustomerAction};

/// A link works for a day at most: long enough for a customer to read the message and reach a
/// phone for the bank's confirmation, short enough that the payment is still what they expect.
pub const PAYMENT_LINK_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest contact note, in characters.
pub const CONTACT_NOTE_LEN_MAX: usize = 500;
/// Random bytes in a link's token (64 hex digits): unguessable.
const LINK_TOKEN_BYTES: usize = 32;

type AuthResult<T> = Result<T, AuthError>;

fn new_link_token() -> String {
    let mut buf = [0u8; LINK_TOKEN_BYTES];
    rand::thread_rng().fill_bytes(&mut buf);
    format!("pl_{}", hex::encode(buf))
}

fn order_id(raw: &str) -> AuthResult<OrderId> {
    OrderId::new(raw).map_err(|e| CentralError::Invalid(format!("order id: {e}")).into())
}

/// The order's waiting intent: the order must wait for its customer, unheld.
async fn waiting_intent(state: &AppState, order: &OrderId) -> AuthResult<String> {
    let current = state.store.order(order).await?;
    if current.status != OrderStatus::NeedsAction {
        return Err(CentralError::Conflict(format!(
            "order {order} is {}, not waiting for its customer: there is nothing to send",
            current.status.as_str()
        ))
        .into());
    }
    if let Some(holder) = current.claim {
        return Err(CentralError::Conflict(format!(
            "order {order} is being charged by {} on terminal {}: wait for that charge to end",
            holder.operator_id, holder.terminal_id
        ))
        .into());
    }
    state.store.open_intent(order).await?.ok_or_else(|| {
        CentralError::Conflict(format!(
            "order {order} has no intent waiting for its customer: charge it again instead"
        ))
        .into()
    })
}

/// `http://host` as the caller reached this central: the link must work from where the desk is.
fn base_url(headers: &HeaderMap) -> AuthResult<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .ok_or_else(|| CentralError::Invalid("the request has no usable Host header".into()))?;
    Ok(format!("http://{host}"))
}

/// `POST /v1/orders/{order_id}/payment-link`.
pub(crate) async fn send_payment_link(
    State(state): State<AppState>,
    session: OperatorSession,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> AuthResult<Json<PaymentLink>> {
    let order = order_id(&raw)?;
    let intent = waiting_intent(&state, &order).await?;
    let gateway = state.config.gateway_actions.as_deref().ok_or_else(|| {
        AuthError::from(CentralError::Unavailable(
            "no gateway configured at the central: payment links need one (--gateway-url)",
        ))
    })?;
    let intent_id =
        GatewayIntentId::new(intent.clone()).map_err(|e| CentralError::Corrupt(e.to_string()))?;
    let view = gateway.intent(&intent_id).await.map_err(|e| {
        CentralError::Conflict(format!(
            "the gateway could not be asked about intent {intent} ({e}): try again in a moment"
        ))
    })?;
    let token = new_link_token();
    let action_id = uuid::Uuid::new_v4().to_string();
    let url = format!("{}/pay/{token}", base_url(&headers)?);
    // An off-session confirm of a 3-D Secure card leaves the intent without a page for the
    // customer (Stripe: `authentication_required`, back to `requires_payment_method`). Stripe's
    // recovery: confirm the same intent again on session, with the order's payment method and
    // where to come back to; it then waits in `requires_action` with the bank's page. The key is
    // this link's own, so another link confirms afresh and a re-send lands once.
    let view = match view.status {
        IntentStatus::RequiresPaymentMethod { .. } => {
            let current = state.store.order(&order).await?;
            let key = paydesk_core::IdempotencyKey::from_stored(&format!(
                "{}:link-{action_id}",
                paydesk_core::IdempotencyKey::for_confirm(&intent_id).as_str()
            ))
            .map_err(|e| CentralError::Corrupt(e.to_string()))?;
            gateway
                .confirm_on_session(&intent_id, &current.payment_method_id, &url, &key)
                .await
                .map_err(|e| {
                    CentralError::Conflict(format!(
                        "the gateway would not prepare intent {intent} for the customer ({e}): \
                         charge the order again instead"
                    ))
                })?
        }
        _ => view,
    };
    if view.status != IntentStatus::RequiresAction || view.next_action_url.is_none() {
        return Err(CentralError::Conflict(format!(
            "intent {intent} is {} at the gateway, with no page for the customer: {}",
            view.status_raw,
            if view.status == IntentStatus::Succeeded {
                "the customer already paid; the order shows paid shortly"
            } else {
                "charge the order again instead"
            }
        ))
        .into());
    }
    let now = clock::now();
    let expires_at = now.plus_ms(PAYMENT_LINK_TTL_MS);
    let sha = crate::auth::token_sha256(&token);
    let recorded = state
        .store
        .record_customer_action(&NewCustomerAction {
            action_id: &action_id,
            order_id: &order,
            intent_id: &intent,
            kind: "link_sent",
            token_sha256: Some(&sha),
            expires_at: Some(expires_at),
            note: "",
            operator_id: session.operator_id.as_str(),
            terminal_id: session.terminal.terminal_id.as_str(),
            session_id: &session.session_id,
            at: now,
        })
        .await?;
    if !recorded {
        return Err(CentralError::Conflict(format!(
            "order {order} changed meanwhile and no longer waits on intent {intent}: look again"
        ))
        .into());
    }
    Ok(Json(PaymentLink {
        order_id: order.to_string(),
        intent_id: intent,
        url,
        sent_by: session.operator_id.to_string(),
        created_at: now.unix_ms(),
        expires_at: expires_at.unix_ms(),
    }))
}

/// `POST /v1/orders/{order_id}/customer-contacted`.
pub(crate) async fn mark_contacted(
    State(state): State<AppState>,
    session: OperatorSession,
    Path(raw): Path<String>,
    ApiJson(req): ApiJson<ContactRequest>,
) -> AuthResult<Json<ContactRecord>> {
    let order = order_id(&raw)?;
    let note = req.note.trim();
    if note.chars().count() > CONTACT_NOTE_LEN_MAX {
        return Err(CentralError::Invalid(format!(
            "note is longer than {CONTACT_NOTE_LEN_MAX} characters: shorten it"
        ))
        .into());
    }
    if !note.is_empty() {
        crate::http_reversals::check_reason(note)
            .map_err(|e| CentralError::Invalid(e.replace("reason", "note")))?;
    }
    let intent = waiting_intent(&state, &order).await?;
    let now = clock::now();
    let action_id = uuid::Uuid::new_v4().to_string();
    let recorded = state
        .store
        .record_customer_action(&NewCustomerAction {
            action_id: &action_id,
            order_id: &order,
            intent_id: &intent,
            kind: "contacted",
            token_sha256: None,
            expires_at: None,
            note,
            operator_id: session.operator_id.as_str(),
            terminal_id: session.terminal.terminal_id.as_str(),
            session_id: &session.session_id,
            at: now,
        })
        .await?;
    if !recorded {
        return Err(CentralError::Conflict(format!(
            "order {order} changed meanwhile and no longer waits on intent {intent}: look again"
        ))
        .into());
    }
    Ok(Json(ContactRecord {
        order_id: order.to_string(),
        intent_id: intent,
        contacted_by: session.operator_id.to_string(),
        contacted_at: now.unix_ms(),
        note: note.to_string(),
    }))
}

/// `GET /v1/customer-waits`.
pub(crate) async fn customer_waits(
    State(state): State<AppState>,
    _session: OperatorSession,
) -> AuthResult<Json<CustomerWaitList>> {
    let items = state
        .store
        .customer_waits()
        .await?
        .into_iter()
        .map(|w| CustomerWaitView {
            order_id: w.order_id,
            intent_id: w.intent_id,
            since: w.since,
            link_sent_at: w.link_sent_at,
            link_sent_by: w.link_sent_by,
            link_expires_at: w.link_expires_at,
            contacted_at: w.contacted_at,
            contacted_by: w.contacted_by,
            contact_note: w.contact_note,
        })
        .collect();
    Ok(Json(CustomerWaitList { items }))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;line-height:1.5}}\
         a.button{{display:inline-block;padding:.6rem 1.2rem;background:#1d4ed8;color:#fff;\
         border-radius:.3rem;text-decoration:none}}</style></head><body><h1>{title}</h1>{body}\
         </body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("a header"));
    response
}

fn expired(why: &str) -> Response {
    page(
        StatusCode::GONE,
        "This payment link has expired",
        &format!("<p id=\"why\">{}</p>", escape(why)),
    )
}

/// `GET /pay/{token}`: the customer's page.
pub(crate) async fn pay_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let not_found = || {
        page(
            StatusCode::NOT_FOUND,
            "This payment link is not valid",
            "<p>Check that you copied the whole link, or ask the merchant for a new one.</p>",
        )
    };
    if !token.starts_with("pl_") || token.len() > 80 {
        return not_found();
    }
    let now: Timestamp = clock::now();
    let link = match state
        .store
        .payment_link(&crate::auth::token_sha256(&token), now)
        .await
    {
        Ok(Some(link)) => link,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::warn!(error = %e, "a payment link could not be read");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again in a moment",
                "<p>The merchant's system could not be reached.</p>",
            );
        }
    };
    match link.state {
        LinkState::Paid => {
            return expired("The order is paid: there is nothing left to do. Thank you.")
        }
        LinkState::Replaced => {
            return expired("A newer link was sent for this order: use the newest one.")
        }
        LinkState::TimedOut => {
            return expired("It was valid for 24 hours. Ask the merchant for a new link.")
        }
        LinkState::NoLongerWaiting => {
            return expired(
                "The payment it was for is no longer waiting for you. The merchant will \
                 contact you if anything is still due.",
            )
        }
        LinkState::Live => {}
    }
    // The gateway's page for the intent, read now (never stored): where the customer confirms.
    let url = match (
        state.config.gateway_actions.as_deref(),
        GatewayIntentId::new(link.intent_id.clone()),
    ) {
        (Some(gateway), Ok(intent)) => match gateway.intent(&intent).await {
            Ok(view) if view.status == IntentStatus::Succeeded => {
                return expired("The payment is complete: there is nothing left to do. Thank you.")
            }
            Ok(view) => view
                .next_action_url
                .filter(|_| view.status == IntentStatus::RequiresAction),
            Err(_) => None,
        },
        _ => None,
    };
    let Some(url) = url else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again in a moment",
            "<p>Your bank's confirmation page could not be reached just now.</p>",
        );
    };
    page(
        StatusCode::OK,
        "Confirm your payment",
        &format!(
            "<p>Order <strong>{}</strong>: {}.</p><p>Amount: <strong id=\"amount\">{}</strong></p>\
             <p>Your bank asks you to confirm this payment.</p>\
             <p><a class=\"button\" id=\"continue\" href=\"{}\" rel=\"noreferrer\">Continue to \
             your bank</a></p>",
            escape(&link.order_id),
            escape(&link.description),
            escape(&link.amount.to_string()),
            escape(&url)
        ),
    )
}
