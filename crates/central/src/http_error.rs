//! The one mapping of the central's errors into HTTP: a status and the JSON error shape
//! `{"error": {"code", "message"}}` with a code from `paydesk_protocol::ErrorCode`. Internal
//! details (database errors, table names) go to the log, never into an answer.
//!
//! Deliberately absent: routing and extraction (`http.rs`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use paydesk_protocol::{ErrorBody, ErrorCode, ErrorDetail};

use crate::error::CentralError;

/// The JSON error shape with `code` and a message for people.
pub(crate) fn error_response(status: StatusCode, code: ErrorCode, message: String) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message,
            holder: None,
            earlier: None,
            reattempt: None,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for CentralError {
    fn into_response(self) -> Response {
        use CentralError as E;
        let (status, code) = match &self {
            E::Db(sqlx::Error::PoolTimedOut) => {
                tracing::warn!("database pool exhausted");
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Busy,
                    "the central is busy; nothing was changed, retry shortly".into(),
                );
            }
            E::Db(_) | E::Migrate(_) | E::Corrupt(_) => {
                // The detail may name tables or values: logs only.
                tracing::error!(error = %self, "internal error");
                return error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "the central could not complete the request; nothing was changed, retry \
                     later or tell an administrator"
                        .into(),
                );
            }
            E::OrderNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::OrderNotFound),
            E::ClaimHeld { holder, .. } => {
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: ErrorCode::ClaimHeld,
                        message: format!("{self}: pick another order or wait until it is released"),
                        holder: Some(holder.clone()),
                        earlier: None,
                        reattempt: None,
                    },
                };
                return (StatusCode::CONFLICT, Json(body)).into_response();
            }
            E::Guard(refusal) => {
                let refusal = (**refusal).clone();
                let body = ErrorBody {
                    error: ErrorDetail {
                        code: refusal.code,
                        message: refusal.message,
                        holder: refusal.holder,
                        earlier: refusal.earlier,
                        reattempt: refusal.reattempt,
                    },
                };
                return (StatusCode::CONFLICT, Json(body)).into_response();
            }
            E::NotChargeable { .. } => (StatusCode::CONFLICT, ErrorCode::OrderNotChargeable),
            E::StaleToken { .. } => {
                let msg = format!(
                    "{self}; this terminal no longer holds the order: stop, re-read the order and \
                     report the attempt's result"
                );
                return error_response(StatusCode::CONFLICT, ErrorCode::StaleClaimToken, msg);
            }
            E::NotHolder { .. } => (StatusCode::CONFLICT, ErrorCode::NotClaimHolder),
            E::ChargeMayBeInFlight { .. } => {
                let msg = format!("{self}; report the attempt's result instead of releasing");
                return error_response(StatusCode::CONFLICT, ErrorCode::ChargeMayBeInFlight, msg);
            }
            E::OtherIntentOpen { .. } => (StatusCode::CONFLICT, ErrorCode::OtherIntentOpen),
            E::WrongAttempt { .. } => (StatusCode::CONFLICT, ErrorCode::WrongAttemptNumber),
            E::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest),
            E::InvalidAmount(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidAmount),
            E::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            E::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            E::Forbidden(_) | E::Refused(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            E::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            E::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge),
            E::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            E::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        };
        error_response(status, code, self.to_string())
    }
}
