//! The customer's 3-D Secure page: where an intent's `next_action.redirect_to_url.url` leads.
//!
//! Like Stripe's test authentication page, it offers "Complete authentication" and "Fail
//! authentication". `GET /3ds/authenticate/{intent}?token=…` shows the page; the buttons post the
//! same token back. Only the token in the intent's own `next_action` opens it, and only while the
//! intent waits in `requires_action`; anything else gets a plain page saying the authentication is
//! no longer open. Completing it succeeds the intent and emits `payment_intent.succeeded` (a
//! signed webhook when one is configured), exactly as the admin route does.
//!
//! Deliberately absent: any API key or admin check (the customer has neither; the token is the
//! only key) and any knowledge of Paydesk's orders or payment links (the central's).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::server::Shared;

/// The query of the page and the form of its buttons.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    token: String,
    /// `complete` or `fail` (the buttons); absent on the page itself.
    #[serde(default)]
    outcome: Option<String>,
}

/// The page's routes, open to anyone who holds the token.
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/3ds/authenticate/{id}", get(page).post(answer))
        .with_state(shared)
}

/// The id and token are compared, never echoed unescaped.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;line-height:1.5}}\
         button{{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}}</style></head>\
         <body><p><small>Sandbox gateway — test 3-D Secure</small></p><h1>{title}</h1>{body}\
         </body></html>"
    );
    (status, Html(page)).into_response()
}

/// Whether the token opens this intent's authentication.
fn token_matches(shared: &Shared, id: &str, token: &str) -> bool {
    let expected = shared.lock().store.authentication_token(id);
    expected.is_some_and(|e| !token.is_empty() && e == token)
}

fn closed(shared: &Shared, id: &str) -> Response {
    let status = shared
        .lock()
        .store
        .intent_summary(id)
        .map_or("unknown", |(status, _, _)| status);
    html(
        StatusCode::GONE,
        "This authentication is no longer open",
        &format!(
            "<p>Payment {} is <strong>{}</strong>: there is nothing to authenticate here. If you \
             still owe this payment, ask the merchant for a new link.</p>",
            escape(id),
            escape(status)
        ),
    )
}

async fn page(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if !token_matches(&shared, &id, &q.token) {
        return closed(&shared, &id);
    }
    let Some((_, amount, currency)) = shared.lock().store.intent_summary(&id) else {
        return closed(&shared, &id);
    };
    let token = escape(&q.token);
    let path = format!("/3ds/authenticate/{}", escape(&id));
    html(
        StatusCode::OK,
        "Confirm your payment",
        &format!(
            "<p>Your bank asks you to confirm a payment of <strong>{amount} {}</strong> (minor \
             units) for payment {}.</p>\
             <form method=\"post\" action=\"{path}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button name=\"outcome\" value=\"complete\" id=\"complete\">Complete \
             authentication</button>\
             <button name=\"outcome\" value=\"fail\" id=\"fail\">Fail authentication</button>\
             </form>",
            escape(&currency.to_uppercase()),
            escape(&id)
        ),
    )
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Form(q): Form<PageQuery>,
) -> Response {
    let complete = match q.outcome.as_deref() {
        Some("complete") => true,
        Some("fail") => false,
        _ => {
            return html(
                StatusCode::BAD_REQUEST,
                "Choose an answer",
                "<p>Press \"Complete authentication\" or \"Fail authentication\".</p>",
            )
        }
    };
    let (result, events) = {
        let mut w = shared.lock();
        let expected = w.store.authentication_token(&id);
        if !expected.is_some_and(|e| !q.token.is_empty() && e == q.token) {
            drop(w);
            return closed(&shared, &id);
        }
        let now = w.now_ms();
        let result = if complete {
            w.store.complete_authentication(&id, now)
        } else {
            w.store.fail_authentication(&id, now)
        };
        shared.changed();
        (result, w.store.drain_undelivered())
    };
    if let Err(e) = shared.save().await {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            &format!(
                "<p>The sandbox could not save its state: {}</p>",
                escape(&e)
            ),
        );
    }
    for event in events {
        let _ = shared.webhook_tx.send(event);
    }
    match (result, complete) {
        (Ok(_), true) => html(
            StatusCode::OK,
            "Payment authenticated",
            "<p>Thank you: your bank confirmed the payment. You can close this page.</p>",
        ),
        (Ok(_), false) => html(
            StatusCode::OK,
            "Authentication failed",
            "<p>The payment was not made. The merchant will contact you.</p>",
        ),
        (Err(e), _) => html(
            e.status,
            "This authentication is no longer open",
            &format!(
                "<p>{}</p>",
                escape(&e.body()["error"]["message"].to_string())
            ),
        ),
    }
}
