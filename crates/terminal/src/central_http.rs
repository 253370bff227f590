//! The central server over HTTP: the engine's [`Central`] trait spoken as the central's JSON API
//! (`paydesk-protocol` types), with this terminal's bearer token.
//!
//! A failure to connect is `Unreachable` (the offline policy decides what happens then); a
//! timeout, a 5xx or an unreadable answer is `NoAnswer` (the central may have acted, so it is not
//! offline); every 4xx is mapped to what it means for the charge. Deliberately absent:
//! retries (the engine's recovery and the relay own those) and any storage of the token (it comes
//! from the OS keyring through the caller).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use paydesk_core::{
    AttemptState, ClaimToken, CustomerId, GatewayIntentId, OrderId, PaymentMethodId,
};
use paydesk_journal::ResultMessage;
use paydesk_protocol as proto;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use paydesk_engine::{Central, CentralError, Claim, ClaimRequest, DeliveryStatus, OrderSnapshot};

/// A request to the central that takes longer than this is treated as unreachable: the claim is
/// the operator's first wait, and an answer slower than this means the central is in trouble.
pub const CENTRAL_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// A loopback or LAN central accepts a connection in milliseconds; longer means it is down.
pub const CENTRAL_CONNECT_TIMEOUT_MS: u64 = 3_000;

/// This terminal's bearer token. Its `Debug` never shows it, so it cannot leak into a log.
#[derive(Clone)]
pub struct TerminalToken(String);

impl TerminalToken {
    pub fn new(token: impl Into<String>) -> TerminalToken {
        TerminalToken(token.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TerminalToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TerminalToken([redacted])")
    }
}

/// The central's HTTP API as a [`Central`].
pub struct HttpCentral {
    /// One connection pool for the life of the engine.
    http: reqwest::Client,
    /// `http://127.0.0.1:port` or `https://central.example`, without a trailing slash.
    base_url: String,
    token: TerminalToken,
}

impl fmt::Debug for HttpCentral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCentral")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .finish()
    }
}

impl HttpCentral {
    pub fn new(base_url: &str, token: TerminalToken) -> Result<HttpCentral, CentralError> {
        // Plain http:// only to this machine; PAYDESK_CENTRAL_CA adds a trusted root (review M1).
        let base_url = crate::transport::checked_base_url(base_url)
            .map_err(|e| CentralError::Invalid(format!("the central's URL {e}")))?;
        let http = crate::transport::central_http_client(
            Duration::from_millis(CENTRAL_REQUEST_TIMEOUT_MS),
            Duration::from_millis(CENTRAL_CONNECT_TIMEOUT_MS),
        )
        .map_err(CentralError::Invalid)?;
        Ok(HttpCentral {
            http,
            base_url,
            token,
        })
    }

    /// GET a JSON document (the order queue, one order) for the front ends.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, CentralError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unreachable)?;
        read(response).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CentralError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(self.token.expose())
            .json(body)
            .send()
            .await
            .map_err(unreachable)?;
        read(response).await
    }
}

/// A transport failure: only a failure to connect is "unreachable" (offline); a timeout or a
/// broken answer after the connection was made is "no answer", since the central may have acted.
fn unreachable(e: reqwest::Error) -> CentralError {
    // reqwest's Display never includes headers, so the token cannot appear here.
    let detail = e.to_string();
    if e.is_connect() {
        CentralError::Unreachable { detail }
    } else {
        CentralError::NoAnswer { detail }
    }
}

/// Turns an answer into the body or the error it means.
async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, CentralError> {
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| CentralError::NoAnswer {
            detail: format!("the central's answer could not be read: {e}"),
        });
    }
    if status.is_server_error() {
        return Err(CentralError::NoAnswer {
            detail: format!("the central answered HTTP {status}"),
        });
    }
    let detail = serde_json::from_slice::<proto::ErrorBody>(&body)
        .map(|b| b.error)
        .unwrap_or_else(|_| proto::ErrorDetail {
            code: proto::ErrorCode::Unknown,
            message: format!("HTTP {status}"),
            holder: None,
        });
    use proto::ErrorCode as Code;
    Err(match (status, detail.code) {
        (_, Code::ClaimHeld) => match detail.holder {
            Some(holder) => CentralError::HeldBy {
                operator: holder.operator_id,
                terminal: holder.terminal_id,
                since: holder.since,
            },
            None => CentralError::Refused {
                code: detail.code,
                message: detail.message,
            },
        },
        (_, Code::StaleClaimToken | Code::NotClaimHolder) => CentralError::StaleClaim,
        (_, Code::OrderNotChargeable) => CentralError::NotChargeable(detail.message),
        (StatusCode::UNAUTHORIZED, _) | (StatusCode::FORBIDDEN, _) => CentralError::Unauthorized,
        (_, code) => CentralError::Refused {
            code,
            message: detail.message,
        },
    })
}

fn outcome_of(state: AttemptState) -> Result<proto::ResultOutcome, CentralError> {
    Ok(match state {
        AttemptState::Succeeded => proto::ResultOutcome::Succeeded,
        AttemptState::Declined => proto::ResultOutcome::Declined,
        AttemptState::RequiresAction => proto::ResultOutcome::RequiresAction,
        AttemptState::Canceled => proto::ResultOutcome::Canceled,
        AttemptState::NeedsReview => proto::ResultOutcome::NeedsReview,
        other => {
            return Err(CentralError::Invalid(format!(
                "an outbox result in state {other} is not final (a journal bug)"
            )))
        }
    })
}

fn order_path(order: &OrderId) -> String {
    // Order ids are restricted to [A-Za-z0-9._:-], all safe in a path segment.
    format!("/v1/orders/{order}")
}

#[async_trait]
impl Central for HttpCentral {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, CentralError> {
        let claim: proto::Claim = self
            .post(
                &format!("{}/claim", order_path(&request.order)),
                &proto::ClaimRequest {
                    operator_id: request.operator.clone(),
                },
            )
            .await
            .map_err(|e| match e {
                CentralError::Refused {
                    code: proto::ErrorCode::OrderNotFound,
                    ..
                } => CentralError::UnknownOrder(request.order.clone()),
                other => other,
            })?;
        let customer = match claim.order.customer_id.as_str() {
            "" => None,
            id => Some(CustomerId::new(id).map_err(|e| {
                CentralError::Invalid(format!("the order's customer id is not usable: {e}"))
            })?),
        };
        let payment_method =
            PaymentMethodId::new(claim.order.payment_method_id.as_str()).map_err(|e| {
                CentralError::Invalid(format!("the order's payment method is not usable: {e}"))
            })?;
        Ok(Claim {
            token: claim.claim_token,
            attempt_number: claim.attempt_number,
            lease_expires_at: claim.lease_until,
            order: OrderSnapshot {
                id: claim.order_id,
                amount: claim.order.amount,
                status: claim.order.status,
                customer,
                payment_method,
            },
            open_intent: claim.open_intent_id,
        })
    }

    async fn register_intent(
        &self,
        order: &OrderId,
        token: ClaimToken,
        attempt_number: paydesk_core::AttemptNumber,
        intent: &GatewayIntentId,
    ) -> Result<(), CentralError> {
        let _: proto::RegisterIntentResponse = self
            .post(
                &format!("{}/intent", order_path(order)),
                &proto::RegisterIntentRequest {
                    claim_token: token,
                    attempt_number,
                    intent_id: intent.clone(),
                },
            )
            .await?;
        Ok(())
    }

    async fn release(&self, order: &OrderId, token: ClaimToken) -> Result<(), CentralError> {
        let _: proto::ReleaseResponse = self
            .post(
                &format!("{}/claim/release", order_path(order)),
                &proto::ClaimTokenRequest { claim_token: token },
            )
            .await?;
        Ok(())
    }

    async fn deliver(
        &self,
        results: &[ResultMessage],
        journal_head: (i64, String),
    ) -> Result<Vec<DeliveryStatus>, CentralError> {
        let items = results
            .iter()
            .map(|r| {
                Ok(proto::ResultItem {
                    attempt_id: r.attempt_id,
                    order_id: r.order.clone(),
                    attempt_number: r.number,
                    claim_token: r.claim_token,
                    outcome: outcome_of(r.state)?,
                    amount: r.amount,
                    intent_id: r.intent_id.clone(),
                    offline: r.offline,
                    occurred_at: r.decided_at,
                })
            })
            .collect::<Result<Vec<_>, CentralError>>()?;
        let batch = proto::ResultBatch {
            journal_head: proto::JournalHead {
                seq: u64::try_from(journal_head.0).unwrap_or(0),
                hash: journal_head.1,
            },
            results: items,
        };
        let response: proto::ResultBatchResponse = self.post("/v1/results", &batch).await?;
        if response.journal.flagged {
            tracing::error!(reason = ?response.journal.reason, "the central flagged this terminal's journal head");
        }
        let mut statuses = Vec::with_capacity(results.len());
        for r in results {
            let receipt = response
                .items
                .iter()
                .find(|i| i.attempt_id == r.attempt_id)
                .ok_or_else(|| {
                    CentralError::Invalid(format!("no receipt for attempt {}", r.attempt_id))
                })?;
            let reason = receipt.reason.clone().unwrap_or_default();
            statuses.push(match receipt.status {
                proto::ItemStatus::Applied => DeliveryStatus::Applied,
                proto::ItemStatus::Duplicate => DeliveryStatus::Duplicate,
                proto::ItemStatus::Flagged => DeliveryStatus::Flagged { reason },
                proto::ItemStatus::Rejected => DeliveryStatus::Rejected { reason },
            });
        }
        Ok(statuses)
    }
}
