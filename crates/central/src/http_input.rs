//! Reading a request's input: the JSON body extractor whose refusals are our JSON errors, the
//! content-type test, path ids and claim tokens the database can hold.
//!
//! Deliberately absent: what a route does with its input (`http`, `http_sessions`).

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, Path, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use paydesk_core::OrderId;
use serde::de::DeserializeOwned;

use crate::error::CentralError;
use crate::http::BODY_BYTES_MAX;

type ApiResult<T> = Result<T, CentralError>;

/// JSON body extractor whose rejections are our JSON errors (axum's are plain text).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = CentralError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(req.headers()) {
            return Err(CentralError::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        // Every request body is an object: serde would read a struct from an array too
        // (`["alice"]` as a claim), which no client means.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(CentralError::Invalid(
                "the JSON body must be an object ({...})".into(),
            ));
        }
        match Json::<T>::from_bytes(&body) {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// The essence of the Content-Type header, lower-cased, without parameters (`; charset=...`).
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/json` or a `+json` type, exactly as axum's `Json` decides; never a look-alike
/// such as `application/jsonx`.
pub(crate) fn is_json_content_type(headers: &HeaderMap) -> bool {
    let media = media_type(headers);
    media == "application/json"
        || media
            .strip_prefix("application/")
            .is_some_and(|sub| sub.len() > "+json".len() && sub.ends_with("+json"))
}

/// Refuses a claim token the database cannot hold: tokens are stored as a signed 64-bit number,
/// so one of 2^63 or more would wrap to a negative value.
pub(crate) fn check_claim_token(token: paydesk_core::ClaimToken, field: &str) -> ApiResult<()> {
    if i64::try_from(token.get()).is_err() {
        return Err(CentralError::Invalid(format!(
            "{field} {token} is too large: claim tokens are at most {}",
            i64::MAX
        )));
    }
    Ok(())
}

pub(crate) fn json_rejection(rejection: JsonRejection) -> CentralError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => CentralError::PayloadTooLarge(format!(
            "the body is larger than {BODY_BYTES_MAX} bytes: send fewer items per request"
        )),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => CentralError::UnsupportedMediaType(
            "send the body as JSON with Content-Type: application/json".into(),
        ),
        // Serde's message names the field and the problem, which is what the client needs.
        _ => CentralError::Invalid(format!(
            "the JSON body is not valid: {}",
            rejection.body_text()
        )),
    }
}

pub(crate) fn bytes_rejection(rejection: axum::extract::rejection::BytesRejection) -> CentralError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        CentralError::PayloadTooLarge(format!(
            "the body is larger than {BODY_BYTES_MAX} bytes: split it"
        ))
    } else {
        CentralError::Invalid(format!(
            "the body could not be read: {}",
            rejection.body_text()
        ))
    }
}

pub(crate) fn order_path(path: Result<Path<String>, PathRejection>) -> ApiResult<OrderId> {
    let Path(raw) = path.map_err(|e| CentralError::Invalid(e.body_text()))?;
    OrderId::new(raw).map_err(|e| CentralError::Invalid(format!("bad order id in the path: {e}")))
}
