//! `POST /webhooks/paypal`: a PayPal webhook delivery, verified offline (`webhook_paypal`),
//! parsed, then stored once per event id and applied by the store.
//!
//! A delivery that fails verification is answered 400 `invalid_signature` with the reason and
//! nothing is written; a certificate that could not be fetched is answered 503 so PayPal retries.
//! Deliberately absent: sessions and roles (the signature is the authentication, as for Stripe),
//! and logging of the webhook id or the signature.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_protocol::ErrorCode;

use crate::clock;
use crate::error::CentralError;
use crate::http::AppState;
use crate::http_error::error_response;
use crate::http_input::bytes_rejection;
use crate::webhook_paypal::event::PaypalEvent;
use crate::webhook_paypal::{PaypalHeaders, PaypalSignatureError};

pub(crate) async fn paypal_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, CentralError> {
    let body = body.map_err(bytes_rejection)?;
    let Some(verifier) = state.config.paypal_webhook.as_ref() else {
        return Err(CentralError::Unavailable(
            "PayPal webhooks are not configured on this central",
        ));
    };
    let now = clock::now();
    let signature =
        match PaypalHeaders::read(|name| headers.get(name).and_then(|v| v.to_str().ok())) {
            Ok(h) => verifier
                .verify(&h, &body, now.unix_ms() / 1000)
                .await
                .map(|()| h),
            Err(e) => Err(e),
        };
    let headers = match signature {
        Ok(h) => h,
        Err(PaypalSignatureError::CertFetch) => {
            return Err(CentralError::Unavailable(
                "the PayPal certificate could not be fetched; retry later",
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "PayPal webhook refused");
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidSignature,
                e.to_string(),
            ));
        }
    };
    let event = PaypalEvent::parse(&body).map_err(CentralError::Invalid)?;
    let payload = String::from_utf8_lossy(&body);
    let stored = state
        .store
        .apply_paypal_event(&event, &payload, &headers.transmission_id, now)
        .await?;
    tracing::info!(event = %event.id, kind = %event.event_type, duplicate = !stored, "PayPal webhook");
    Ok(Json(serde_json::json!({ "received": true, "duplicate": !stored })).into_response())
}
