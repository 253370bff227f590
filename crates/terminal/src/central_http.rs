//! The central server over HTTP: the engine's [`Central`] trait spoken as the central's JSON API
//! (`paydesk-protocol` types), with this terminal's bearer token and — on the claim and the
//! person's own calls — the signed-in person's session token ([`proto::SESSION_HEADER`]).
//!
//! A failure to connect is `Unreachable` (the offline policy decides what happens then); a
//! timeout, a 5xx or an unreadable answer is `NoAnswer` (the central may have acted, so it is not
//! offline); every 4xx is mapped to what it means for the charge. Answers are read with a size
//! cap.
//!
//! Several centrals (one PostgreSQL database behind them) may be given, separated by commas: a
//! request goes to the central that answered last and fails over to the next when no
//! connection can be made there (the request never arrived, so sending it elsewhere is always
//! safe). Only a request whose repetition has the effect of one — a read, a result batch (the
//! central applies each attempt once), an intent registration under the same token, a release
//! (fenced by its token), ending a session — is also sent to the next central after a timeout, a
//! 5xx or a broken answer; a claim, a sign-in or a manager's action is not (the first central
//! may have acted), and stays `NoAnswer` as with one central, while the next request starts at
//! the next central. Every central is unreachable → `Unreachable` (offline); any of them
//! connected but gave no answer → `NoAnswer`. Deliberately absent: retries on the same central
//! (the engine's recovery and the relay own those) and any storage of the tokens (the terminal token comes from the OS keyring through the caller; the
//! session token lives in memory only, shared by the clones of one client).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use paydesk_core::reattempt::{decline_codes_in, is_do_not_retry};
use paydesk_core::{
    AttemptState, ClaimToken, CustomerId, GatewayIntentId, OperatorId, OrderId, PaymentMethodId,
    Pin,
};
use paydesk_journal::ResultMessage;
use paydesk_protocol as proto;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use paydesk_engine::{
    Central, CentralError, Claim, ClaimOptions, ClaimRequest, DeliveryStatus, OrderSnapshot,
};

/// A request to the central that takes longer than this is treated as unreachable: the claim is
/// the operator's first wait, and an answer slower than this means the central is in trouble.
pub const CENTRAL_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// A loopback or LAN central accepts a connection in milliseconds; longer means it is down.
pub const CENTRAL_CONNECT_TIMEOUT_MS: u64 = 3_000;

/// The largest answer read from the central: a full page of orders is well under a megabyte; a
/// hostile or broken central must not fill the terminal's memory.
pub const CENTRAL_ANSWER_BYTES_MAX: usize = 8 * 1024 * 1024;

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

/// A person's session token (`pds_…`). Its `Debug` never shows it; it is never written anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn new(token: impl Into<String>) -> SessionToken {
        SessionToken(token.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// Whether a request may go to another central after one was connected to but gave no usable
/// answer (a timeout, a 5xx, a broken body). Any request goes to the next central when no
/// connection could be made: it never arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Not after an answer was lost: the first central may have acted (a claim, a sign-in that
    /// counts a wrong PIN, a manager's action).
    OnlyUnsent,
    /// Also after an answer was lost: sending it twice has the effect of sending it once.
    Idempotent,
}

/// The central's HTTP API as a [`Central`]. Clones share the connection pool, the session slot
/// and the central in use: the engine's copy claims in the session the terminal's copy opened.
#[derive(Clone)]
pub struct HttpCentral {
    /// One connection pool for the life of the engine.
    http: reqwest::Client,
    /// `http://127.0.0.1:port` or `https://central.example`, without a trailing slash: one, or
    /// several centrals on one database, in the order they were given.
    base_urls: Arc<[String]>,
    /// The index in `base_urls` of the central that answered last (where requests start).
    active: Arc<AtomicUsize>,
    token: TerminalToken,
    /// The signed-in person's session, sent on the claim and the person's own calls.
    session: Arc<RwLock<Option<SessionToken>>>,
}

impl fmt::Debug for HttpCentral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCentral")
            .field("base_urls", &self.base_urls)
            .field("active", &self.active.load(Ordering::Relaxed))
            .field("token", &self.token)
            .field("session", &self.session_token().is_some())
            .finish()
    }
}

impl HttpCentral {
    /// `base_url` is one central's URL, or several separated by commas (tried in that order).
    pub fn new(base_url: &str, token: TerminalToken) -> Result<HttpCentral, CentralError> {
        // Plain http:// only to this machine; PAYDESK_CENTRAL_CA adds a trusted root (review M1).
        let base_urls = crate::transport::checked_base_urls(base_url)
            .map_err(|e| CentralError::Invalid(format!("the central's URL {e}")))?;
        let http = crate::transport::central_http_client(
            Duration::from_millis(CENTRAL_REQUEST_TIMEOUT_MS),
            Duration::from_millis(CENTRAL_CONNECT_TIMEOUT_MS),
        )
        .map_err(CentralError::Invalid)?;
        Ok(HttpCentral {
            http,
            base_urls: base_urls.into(),
            active: Arc::default(),
            token,
            session: Arc::default(),
        })
    }

    /// The central requests go to first: the one that answered last.
    pub fn active_url(&self) -> &str {
        let i = self.active.load(Ordering::Relaxed) % self.base_urls.len();
        &self.base_urls[i]
    }

    /// The session in use, if any.
    pub(crate) fn session_token(&self) -> Option<SessionToken> {
        self.session.read().ok().and_then(|s| s.clone())
    }

    /// Makes `session` the one the claim and the person's calls carry (`None`: nobody).
    pub fn set_session(&self, session: Option<SessionToken>) {
        if let Ok(mut slot) = self.session.write() {
            *slot = session;
        }
    }

    /// True while a session is set.
    pub fn has_session(&self) -> bool {
        self.session_token().is_some()
    }

    /// `POST /v1/sessions`: the central checks the PIN and opens a session. The session is not
    /// put to use here ([`HttpCentral::set_session`] does that), so a manager's one-off check
    /// leaves the person signed in at the terminal alone.
    pub async fn open_session(
        &self,
        operator: &OperatorId,
        pin: &Pin,
    ) -> Result<proto::SessionGrant, CentralError> {
        let body = proto::SignInRequest {
            operator_id: operator.clone(),
            pin: pin.expose().to_string(),
        };
        self.send(
            Method::POST,
            "/v1/sessions",
            Some(&body),
            None,
            Resend::OnlyUnsent,
        )
        .await
    }

    /// `DELETE /v1/sessions/current` for `session`.
    pub async fn close_session(&self, session: &SessionToken) -> Result<(), CentralError> {
        let _: serde_json::Value = self
            .send(
                Method::DELETE,
                "/v1/sessions/current",
                None::<&()>,
                Some(session),
                Resend::Idempotent,
            )
            .await?;
        Ok(())
    }

    /// Ends the session in use, here at once and at the central (`DELETE /v1/sessions/current`).
    pub async fn end_session(&self) -> Result<(), CentralError> {
        let session = self.session.write().ok().and_then(|mut slot| slot.take());
        match session {
            Some(session) => self.close_session(&session).await,
            None => Ok(()),
        }
    }

    /// GET a JSON document in the signed-in person's session (a manager's views).
    pub async fn get_json_in_session<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, CentralError> {
        let session = self.session_token().ok_or(CentralError::SessionRequired)?;
        self.send(
            Method::GET,
            path,
            None::<&()>,
            Some(&session),
            Resend::Idempotent,
        )
        .await
    }

    /// POST in the signed-in person's session (the claim, a manager's offline allowance).
    pub async fn post_in_session<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CentralError> {
        let session = self.session_token().ok_or(CentralError::SessionRequired)?;
        self.send(
            Method::POST,
            path,
            Some(body),
            Some(&session),
            Resend::OnlyUnsent,
        )
        .await
    }

    /// DELETE with a body in the signed-in person's session (a manager withdrawing an offline
    /// allowance, PIN again).
    pub async fn delete_in_session<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CentralError> {
        let session = self.session_token().ok_or(CentralError::SessionRequired)?;
        self.send(
            Method::DELETE,
            path,
            Some(body),
            Some(&session),
            Resend::OnlyUnsent,
        )
        .await
    }

    /// PUT in the signed-in person's session (a manager's change to the settings).
    pub async fn put_in_session<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CentralError> {
        let session = self.session_token().ok_or(CentralError::SessionRequired)?;
        self.send(
            Method::PUT,
            path,
            Some(body),
            Some(&session),
            Resend::OnlyUnsent,
        )
        .await
    }

    /// Sends with the terminal's token (and `session`, if given) and reads the answer, starting
    /// at the central that answered last and failing over as `resend` allows (module docs).
    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        session: Option<&SessionToken>,
        resend: Resend,
    ) -> Result<T, CentralError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| CentralError::Invalid(format!("a request body: {e}")))?;
        let count = self.base_urls.len();
        let first = self.active.load(Ordering::Relaxed) % count;
        let mut unreachable_error = None;
        let mut no_answer = None;
        for step in 0..count {
            let index = (first + step) % count;
            let base = &self.base_urls[index];
            let mut request = self
                .http
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(self.token.expose());
            if let Some(session) = session {
                request = request.header(proto::SESSION_HEADER, session.expose());
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => read(response).await,
                Err(e) => Err(unreachable(e)),
            };
            match outcome {
                Err(e @ CentralError::Unreachable { .. }) => {
                    if count > 1 {
                        tracing::warn!(central = %base, error = %e, "central unreachable; trying the next");
                    }
                    unreachable_error = Some(e);
                }
                Err(e @ CentralError::NoAnswer { .. }) => {
                    // The next request starts at the next central either way: this one is in
                    // trouble (hung, failing, or going down).
                    if count > 1 {
                        self.active.store((index + 1) % count, Ordering::Relaxed);
                    }
                    if resend == Resend::OnlyUnsent || step + 1 == count {
                        return Err(no_answer.unwrap_or(e));
                    }
                    tracing::warn!(central = %base, error = %e, "no answer; sending the request again to the next central");
                    no_answer.get_or_insert(e);
                }
                answered => {
                    self.active.store(index, Ordering::Relaxed);
                    return answered;
                }
            }
        }
        // A central that was connected to but did not answer may have acted: not offline.
        Err(no_answer
            .or(unreachable_error)
            .unwrap_or_else(|| CentralError::Invalid("no central is configured".into())))
    }

    /// GET a JSON document (the order queue, one order) for the front ends.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, CentralError> {
        self.send(Method::GET, path, None::<&()>, None, Resend::Idempotent)
            .await
    }

    /// POST with the terminal's token only (intent, release, results: a terminal's routes, so
    /// the relay delivers after the person signed out). Each is idempotent at the central: a
    /// result is applied once per attempt, an intent registered again under the same token is a
    /// no-op, a release is fenced by its token.
    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CentralError> {
        self.send(Method::POST, path, Some(body), None, Resend::Idempotent)
            .await
    }
}

/// A transport failure: only a failure to connect is "unreachable" (offline); a timeout or a
/// broken answer after the connection was made is "no answer", since the central may have acted.
fn unreachable(e: reqwest::Error) -> CentralError {
    let detail = transport_words(&e);
    if e.is_connect() {
        CentralError::Unreachable { detail }
    } else {
        CentralError::NoAnswer { detail }
    }
}

/// A transport failure in a person's words, naming the central's host and port: the library's
/// own text ("error sending request for url (…)", "tcp connect error … (os error 111)") means
/// nothing to an operator. Never the path or a header, so no token can appear here.
fn transport_words(e: &reqwest::Error) -> String {
    let place = e
        .url()
        .and_then(|u| {
            let host = u.host_str()?;
            Some(match u.port_or_known_default() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            })
        })
        .unwrap_or_else(|| "the central".into());
    let io_kind = {
        let mut source = std::error::Error::source(e);
        let mut kind = None;
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                kind = Some(io.kind());
            }
            source = s.source();
        }
        kind
    };
    if e.is_timeout() {
        return format!("{place} did not answer in time");
    }
    if e.is_connect() {
        return match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                format!("nothing answers at {place} (connection refused)")
            }
            Some(std::io::ErrorKind::TimedOut) => format!("{place} did not answer in time"),
            Some(std::io::ErrorKind::NotFound) => format!("{place} is not a known host name"),
            _ if format!("{e:?}").contains("dns error") => {
                format!("{place} is not a known host name")
            }
            _ => format!("could not connect to {place}"),
        };
    }
    format!("the connection to {place} broke before the answer was complete")
}

/// Reads an answer's body, at most [`CENTRAL_ANSWER_BYTES_MAX`] bytes.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, CentralError> {
    let too_large = || CentralError::NoAnswer {
        detail: format!(
            "the central's answer is larger than {} MiB",
            CENTRAL_ANSWER_BYTES_MAX / (1024 * 1024)
        ),
    };
    if response
        .content_length()
        .is_some_and(|n| n > CENTRAL_ANSWER_BYTES_MAX as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > CENTRAL_ANSWER_BYTES_MAX {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns an answer into the body or the error it means.
async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, CentralError> {
    let status = response.status();
    let mut body = read_capped(response).await?;
    if status.is_success() {
        // An empty success (204 on ending a session) reads as JSON null.
        if body.is_empty() {
            body = b"null".to_vec();
        }
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
            earlier: None,
            reattempt: None,
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
        (_, Code::SessionRequired) => CentralError::SessionRequired,
        (_, Code::SessionExpired) => CentralError::SessionExpired,
        (_, Code::Locked) => CentralError::Locked(detail.message),
        (_, Code::RateLimited) => CentralError::RateLimited(detail.message),
        (StatusCode::FORBIDDEN, _) => CentralError::Forbidden(detail.message),
        (StatusCode::UNAUTHORIZED, _) => CentralError::Unauthorized,
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
    async fn peek_order(&self, order: &OrderId) -> Result<Option<OrderSnapshot>, CentralError> {
        let detail: proto::OrderDetail =
            self.get_json(&order_path(order))
                .await
                .map_err(|e| match e {
                    CentralError::Refused {
                        code: proto::ErrorCode::OrderNotFound,
                        ..
                    } => CentralError::UnknownOrder(order.clone()),
                    other => other,
                })?;
        // Only the amount and the status are checked before the claim; the claim re-reads all.
        let Ok(payment_method) = PaymentMethodId::new(detail.order.payment_method_id.as_str())
        else {
            return Ok(None);
        };
        Ok(Some(OrderSnapshot {
            id: detail.order.order_id,
            amount: detail.order.amount,
            status: detail.order.status,
            customer: CustomerId::new(detail.order.customer_id.as_str()).ok(),
            payment_method,
            paid_minor: detail.order.paid_minor,
        }))
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, CentralError> {
        self.claim_with(request, ClaimOptions::default()).await
    }

    async fn claim_with(
        &self,
        request: &ClaimRequest,
        options: ClaimOptions,
    ) -> Result<Claim, CentralError> {
        // The operator comes from the session at the central; the body's must match it. Sent
        // without one too (a person signed in offline): an unreachable central is then offline,
        // a reachable one answers `session_required`.
        let session = self.session_token();
        let body = proto::ClaimRequest {
            operator_id: request.operator.clone(),
            confirm_similar: options.confirm_similar,
            amount: options.amount,
            reason: options.reason.clone(),
        };
        let path = format!("{}/claim", order_path(&request.order));
        // Never sent to a second central once the first was reached: it may have granted the
        // claim, and a second claim would take the order over from this very attempt.
        let claim: proto::Claim = self
            .send(
                Method::POST,
                &path,
                Some(&body),
                session.as_ref(),
                Resend::OnlyUnsent,
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
            // A central from before installments grants the whole amount.
            amount: claim.amount.unwrap_or(claim.order.amount),
            installment: claim.installment,
            order: OrderSnapshot {
                id: claim.order_id,
                amount: claim.order.amount,
                status: claim.order.status,
                customer,
                payment_method,
                paid_minor: claim.order.paid_minor,
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
                    // An attempt that began offline but claimed its order before it confirmed
                    // (the central was back) is bound to that claim: on the wire it is a
                    // claim-bound result, which the central checks against the claims it granted
                    // this terminal. Only a result without a claim is "offline" (checked against
                    // the manager's grants).
                    offline: r.offline
                        && r.claim_token.get() == paydesk_engine::OFFLINE_CLAIM_TOKEN,
                    occurred_at: r.decided_at,
                    installment: r.installment,
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
        let response: proto::ResultBatchResponse = match self.post("/v1/results", &batch).await {
            Ok(response) => response,
            // The central answers 403 only when it refused every item as something no honest
            // terminal sends, and stored none: sending the batch again can never succeed, so
            // each result is parked for a person instead of retried forever.
            Err(CentralError::Forbidden(reason)) => {
                tracing::error!(%reason, results = results.len(), "the central refused every result of a batch");
                return Ok(results
                    .iter()
                    .map(|_| DeliveryStatus::Rejected {
                        reason: reason.clone(),
                    })
                    .collect());
            }
            Err(e) => return Err(e),
        };
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
        self.report_declines(results, &statuses).await;
        Ok(statuses)
    }
}

/// How long the decline reports of one batch may take in all: they follow the delivered
/// results and must never hold up their delivery for long.
const DECLINE_REPORTS_WITHIN: Duration = Duration::from_secs(3);

impl HttpCentral {
    /// Best effort, after the results were delivered: each newly applied decline with a
    /// do-not-retry code goes to `POST /v1/orders/{id}/decline`, where it stops every later
    /// claim on the card for good. Other declines need no report: the central reads their codes
    /// from the results themselves for the card networks' 30-day limits (one request per
    /// decline made a drain of 10,000 declined results ten times slower). The brand is not known
    /// here: the central takes the card from the order. A failure is logged; the result stays
    /// delivered.
    async fn report_declines(&self, results: &[ResultMessage], statuses: &[DeliveryStatus]) {
        let reports: Vec<(OrderId, proto::guard::DeclineReport)> = results
            .iter()
            .zip(statuses)
            .filter_map(|(r, status)| {
                let applied =
                    r.state == AttemptState::Declined && *status == DeliveryStatus::Applied;
                let (code, advice) = r.reason.as_deref().and_then(decline_codes_in)?;
                let never = is_do_not_retry(Some(&code), advice.as_deref());
                (applied && never).then_some((r, code, advice))
            })
            .map(|(r, code, advice)| {
                let report = proto::guard::DeclineReport {
                    attempt_id: r.attempt_id,
                    attempt_number: r.number,
                    intent_id: r.intent_id.clone(),
                    decline_code: Some(code),
                    advice_code: advice,
                    card_brand: None,
                    occurred_at: r.decided_at,
                };
                (r.order.clone(), report)
            })
            .collect();
        if reports.is_empty() {
            return;
        }
        let send = async {
            for (order, report) in &reports {
                let path = format!("{}/decline", order_path(order));
                let sent: Result<proto::guard::DeclineReceipt, CentralError> =
                    self.post(&path, report).await;
                match sent {
                    Ok(receipt) => {
                        tracing::info!(%order, message = %receipt.message, "decline reported")
                    }
                    Err(e) => {
                        tracing::warn!(%order, error = %e, "could not report a decline (best effort)")
                    }
                }
            }
        };
        if tokio::time::timeout(DECLINE_REPORTS_WITHIN, send)
            .await
            .is_err()
        {
            tracing::warn!("decline reports took too long; the rest were not sent (best effort)");
        }
    }
}

#[cfg(test)]
#[path = "central_http_failover.rs"]
mod failover_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A one-shot HTTP server on loopback that answers every request with `head` and then
    /// `body_bytes` bytes of JSON-ish filler.
    async fn server(head: String, body_bytes: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let head = head.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    let chunk = vec![b' '; 64 * 1024];
                    let mut left = body_bytes;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if socket.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    fn client(url: &str) -> HttpCentral {
        HttpCentral::new(url, TerminalToken::new("pdt_test")).unwrap()
    }

    #[tokio::test]
    async fn a_central_nobody_answers_for_is_said_in_words() {
        // A port nothing listens on: bind one, then free it.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let central = client(&format!("http://127.0.0.1:{port}"));
        match central.get_json::<serde_json::Value>("/v1/orders").await {
            Err(CentralError::Unreachable { detail }) => {
                assert_eq!(
                    detail,
                    format!("nothing answers at 127.0.0.1:{port} (connection refused)")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_answer_over_the_size_cap_is_not_read_into_memory() {
        let huge = CENTRAL_ANSWER_BYTES_MAX + 1;
        // Announced by its length: refused before reading.
        let announced = server(
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {huge}\r\n\r\n"),
            huge,
        )
        .await;
        let e = client(&announced)
            .get_json::<serde_json::Value>("/v1/orders")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("larger than 8 MiB"), "{e}");
        // Not announced (read until the connection closes): cut off at the cap.
        let unannounced = server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                .to_string(),
            huge,
        )
        .await;
        let e = client(&unannounced)
            .get_json::<serde_json::Value>("/v1/orders")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("larger than 8 MiB"), "{e}");
        // Within the cap: read as usual.
        let small = server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                .to_string(),
            0,
        )
        .await;
        let ok: serde_json::Value = client(&small).get_json("/v1/orders").await.unwrap();
        assert_eq!(ok, serde_json::json!({}));
    }
}
