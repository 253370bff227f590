//! Connector tests for everything after the charge: refunds, cancel, search, the events list,
//! parsing Stripe's recorded fixtures, and the sweep that the API key never shows up in a result,
//! an error or a log line. Deliberately absent: create and confirm (`charge.rs`).

use super::*;

fn refund_object(amount: i64, status: &str) -> String {
    serde_json::json!({"id": "re_1", "object": "refund", "amount": amount, "currency": "eur",
        "status": status, "payment_intent": "pi_123", "charge": "ch_1", "metadata": {}, "created": 1})
    .to_string()
}

#[tokio::test]
async fn refunds_full_and_partial() {
    let server = Scripted::start(vec![
        reply(200, &refund_object(1234, "succeeded")),
        reply(200, &refund_object(200, "pending")),
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "charge_already_refunded",
                "message": "Charge ch_1 has already been refunded."}),
        ),
        reply(502, ""),
    ])
    .await;
    let gateway = gateway(&server.base_url);
    let full = gateway.refund(&refund_request(None)).await.unwrap();
    assert!(
        matches!(&full, RefundResult::Created(r) if r.status == RefundStatus::Succeeded && r.amount.minor() == 1234),
        "{full:?}"
    );
    let partial = gateway.refund(&refund_request(Some(200))).await.unwrap();
    assert!(
        matches!(&partial, RefundResult::Created(r) if r.status == RefundStatus::Pending),
        "{partial:?}"
    );
    let again = gateway.refund(&refund_request(None)).await.unwrap();
    assert!(
        matches!(&again, RefundResult::Refused { reason, .. } if reason == "charge_already_refunded"),
        "{again:?}"
    );
    let unknown = gateway.refund(&refund_request(None)).await.unwrap();
    assert!(
        matches!(unknown, RefundResult::Unknown { .. }),
        "{unknown:?}"
    );

    let requests = server.requests();
    assert_eq!(requests[0].target, "/v1/refunds");
    assert_eq!(
        requests[0].header("idempotency-key"),
        Some("paydesk:refund:pi_123:1")
    );
    let full_form: BTreeMap<_, _> = requests[0].form().into_iter().collect();
    assert_eq!(
        full_form.get("payment_intent").map(String::as_str),
        Some("pi_123")
    );
    assert_eq!(
        full_form.get("amount"),
        None,
        "a full refund names no amount"
    );
    assert_eq!(
        full_form.get("reason").map(String::as_str),
        Some("requested_by_customer")
    );
    assert_eq!(
        full_form.get("metadata[approved_by]").map(String::as_str),
        Some("mgr-1")
    );
    let partial_form: BTreeMap<_, _> = requests[1].form().into_iter().collect();
    assert_eq!(partial_form.get("amount").map(String::as_str), Some("200"));
}

#[tokio::test]
async fn cancel_is_idempotent() {
    let unexpected = || {
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
        )
    };
    let server = Scripted::start(vec![
        intent_reply("canceled"),
        unexpected(),
        intent_reply("canceled"),
        unexpected(),
        intent_reply("succeeded"),
    ])
    .await;
    let gateway = gateway(&server.base_url);
    let key = IdempotencyKey::for_cancel(&pi());
    let first = gateway.cancel_intent(&pi(), &key).await.unwrap();
    assert!(matches!(first, CancelResult::Canceled(_)), "{first:?}");
    let again = gateway.cancel_intent(&pi(), &key).await.unwrap();
    assert!(matches!(again, CancelResult::Canceled(_)), "{again:?}");
    let too_late = gateway.cancel_intent(&pi(), &key).await.unwrap();
    assert!(
        matches!(&too_late, CancelResult::NotCancelable(v) if v.status == IntentStatus::Succeeded),
        "{too_late:?}"
    );
    let request = &server.requests()[0];
    assert_eq!(request.target, "/v1/payment_intents/pi_123/cancel");
    assert_eq!(
        request.header("idempotency-key"),
        Some("paydesk:cancel:pi_123")
    );
    assert_eq!(request.body, "cancellation_reason=abandoned");
}

#[tokio::test]
async fn search_builds_a_metadata_query_and_a_miss_is_just_empty() {
    let page = |data: Vec<serde_json::Value>| {
        reply(
            200,
            &serde_json::json!({"object": "search_result", "data": data, "has_more": false,
                "next_page": null, "url": "/v1/payment_intents/search"})
            .to_string(),
        )
    };
    let server = Scripted::start(vec![page(vec![intent("succeeded")]), page(vec![])]).await;
    let gateway = gateway(&server.base_url);
    let found = gateway
        .search_intents(&MetadataQuery::attempt(&order(), one()))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].meta("order_id"), Some("ORD-1"));
    let miss = gateway
        .search_intents(&MetadataQuery::order(&OrderId::new("ORD-404").unwrap()))
        .await
        .unwrap();
    assert!(miss.is_empty());

    let request = &server.requests()[0];
    assert_eq!(request.method, "GET");
    assert!(request.target.starts_with("/v1/payment_intents/search?"));
    let query: BTreeMap<_, _> = request.query().into_iter().collect();
    assert_eq!(
        query.get("query").map(String::as_str),
        Some("metadata['order_id']:'ORD-1' AND metadata['attempt_number']:'1'")
    );
    assert_eq!(query.get("limit").map(String::as_str), Some("100"));
}

#[tokio::test]
async fn list_events_parses_a_page() {
    let fixtures = fixtures();
    let mut succeeded = fixtures["event"].clone();
    succeeded["type"] = "payment_intent.succeeded".into();
    succeeded["data"]["object"] = intent("succeeded");
    succeeded["request"] =
        serde_json::json!({"id": "req_1", "idempotency_key": "paydesk:confirm:pi_123"});
    let body = serde_json::json!({"object": "list", "data": [succeeded, fixtures["event"]],
        "has_more": true, "url": "/v1/events"});
    let server = Scripted::start(vec![reply(200, &body.to_string())]).await;
    let page = gateway(&server.base_url)
        .list_events(&EventQuery {
            limit: 2,
            starting_after: Some("evt_0".into()),
            created_gte: Some(1_700_000_000),
            types: vec!["payment_intent.succeeded".into()],
        })
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(page.events.len(), 2);
    let first = &page.events[0];
    assert_eq!(first.object_kind.as_deref(), Some("payment_intent"));
    assert_eq!(
        first.request_idempotency_key.as_deref(),
        Some("paydesk:confirm:pi_123")
    );
    assert_eq!(
        parse_intent(&first.object).unwrap().status,
        IntentStatus::Succeeded
    );
    let query: BTreeMap<_, _> = server.requests()[0].query().into_iter().collect();
    assert_eq!(query.get("limit").map(String::as_str), Some("2"));
    assert_eq!(
        query.get("starting_after").map(String::as_str),
        Some("evt_0")
    );
    assert_eq!(
        query.get("created[gte]").map(String::as_str),
        Some("1700000000")
    );
    assert_eq!(
        query.get("types[0]").map(String::as_str),
        Some("payment_intent.succeeded")
    );
}

fn fixtures() -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/stripe_fixtures.json")).unwrap();
    all["resources"].clone()
}

#[test]
fn parses_stripe_fixtures() {
    let fixtures = fixtures();
    let intent = parse_intent(&fixtures["payment_intent"]).unwrap();
    assert_eq!(intent.id.as_str(), "pi_1PgafyB7WZ01zgkWSjxsAJo3");
    assert_eq!(intent.amount.to_string(), "10.99 USD");
    assert_eq!(
        intent.status,
        IntentStatus::RequiresPaymentMethod {
            reason: "idempotency_error".into()
        }
    );
    assert_eq!(intent.next_action.as_deref(), Some("type"));
    assert!(
        !format!("{intent:?}").contains("secret"),
        "the client secret is not kept"
    );

    let refund = parse_refund(&fixtures["refund"]).unwrap();
    assert_eq!(refund.id, "re_1Pgc72B7WZ01zgkWqPvrRrPE");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(refund.amount.minor(), 100);
    assert_eq!(
        refund.charge.as_deref(),
        Some("ch_1PgafuB7WZ01zgkWXYmPNZs8")
    );

    let event = parse_event(&fixtures["event"]).unwrap();
    assert_eq!(event.id, "evt_1Pgc76B7WZ01zgkWwyRHS12y");
    assert_eq!(event.event_type, "plan.created");
    assert_eq!(event.object_kind.as_deref(), Some("plan"));
    assert_eq!(event.request_idempotency_key, None);

    let charge = parse_charge(&fixtures["charge"]).unwrap();
    assert_eq!(charge.id, "ch_1PgafuB7WZ01zgkWXYmPNZs8");
    assert_eq!(charge.status, "succeeded");
    assert!(charge.paid);
    assert_eq!(charge.amount.to_string(), "1.00 USD");

    let dispute = parse_dispute(&fixtures["dispute"]).unwrap();
    assert_eq!(dispute.id, "dp_1Pgc71B7WZ01zgkWMevJiAUx");
    assert_eq!(dispute.status, "warning_needs_response");
    assert_eq!(
        dispute.charge.as_deref(),
        Some("ch_1PgafuB7WZ01zgkWXYmPNZs8")
    );
}

#[test]
fn unknown_statuses_and_currencies_are_parse_errors_not_declines() {
    let mut object = intent("teleported");
    assert!(parse_intent(&object).is_err());
    object["status"] = "succeeded".into();
    object["currency"] = "xyz".into();
    assert!(parse_intent(&object).is_err());
    object["currency"] = "eur".into();
    assert!(parse_intent(&object).is_ok());
    object["amount"] = (-5).into();
    assert!(parse_intent(&object).is_err());
}

#[tokio::test]
async fn the_key_never_leaks_into_errors_results_or_logs() {
    let logs = LogCapture::install();
    let gateway_at = |url: &str| gateway(url);
    let server = Scripted::start(vec![
        error(
            401,
            serde_json::json!({"message": format!("Invalid API Key provided: {SECRET_KEY}")}),
        ),
        error(
            403,
            serde_json::json!({"type": "invalid_request_error",
                "message": format!("The provided key '{SECRET_KEY}' does not have access")}),
        ),
        error(
            400,
            serde_json::json!({"type": "idempotency_error", "message": format!("key {SECRET_KEY}")}),
        ),
        error(
            404,
            serde_json::json!({"type": "invalid_request_error", "code": "resource_missing",
                "message": format!("No such payment_intent (key {SECRET_KEY})")}),
        ),
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "parameter_unknown",
                "message": format!("Received unknown parameter {SECRET_KEY}")}),
        ),
        reply(200, "not json"),
        Act::Close,
    ])
    .await;
    let gateway = gateway_at(&server.base_url);
    assert_no_secret_in(&gateway);
    let mut errors = vec![
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.create_intent(&create_request()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
        gateway.retrieve_intent(&pi()).await.unwrap_err(),
    ];
    let closed = gateway_at(&closed_port_url().await);
    errors.push(closed.retrieve_intent(&pi()).await.unwrap_err());
    errors.push(
        StripeGateway::new(ApiKey::new(SECRET_KEY).unwrap(), fast_config("::not a url"))
            .unwrap_err(),
    );
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            GatewayError::Authentication { .. } => "authentication",
            GatewayError::Permission { .. } => "permission",
            GatewayError::IdempotencyKeyReused { .. } => "idempotency",
            GatewayError::NotFound { .. } => "not_found",
            GatewayError::InvalidRequest { .. } => "invalid",
            GatewayError::NotSent { .. } => "not_sent",
            GatewayError::Unknown { .. } => "unknown",
            GatewayError::Config { .. } => "config",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "authentication",
            "permission",
            "idempotency",
            "not_found",
            "invalid",
            "unknown",
            "unknown",
            "not_sent",
            "config"
        ],
        "every variant is exercised"
    );
    for error in &errors {
        assert_error_clean(error);
    }
    // Results carrying transport details.
    let hang = Scripted::start(vec![Act::Hang]).await;
    let result = gateway_at(&hang.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    assert_no_secret_in(&result);
    let text = logs.text();
    assert!(
        text.contains("gateway answered"),
        "logs were captured: {text}"
    );
    assert_no_secret(&text);
}

#[tokio::test]
async fn a_charge_is_read_by_id_with_what_was_refunded() {
    let charge = serde_json::json!({"id": "ch_1", "object": "charge", "amount": 1250,
        "amount_captured": 1250, "amount_refunded": 500, "currency": "eur", "status": "succeeded",
        "paid": true, "refunded": false, "disputed": false, "payment_intent": "pi_123",
        "metadata": {"order_id": "ORD-1"}, "created": 1});
    let server = Scripted::start(vec![
        reply(200, &charge.to_string()),
        error(
            404,
            serde_json::json!({"type": "invalid_request_error", "code": "resource_missing",
                "message": "No such charge: 'ch_404'"}),
        ),
    ])
    .await;
    let gateway = gateway(&server.base_url);
    let read = gateway.retrieve_charge("ch_1").await.unwrap();
    assert_eq!((read.amount.minor(), read.amount_refunded), (1250, 500));
    assert_eq!(read.payment_intent.as_deref(), Some("pi_123"));
    let missing = gateway.retrieve_charge("ch_404").await.unwrap_err();
    assert!(
        matches!(missing, GatewayError::NotFound { .. }),
        "{missing:?}"
    );
    // Not an id: refused before anything is sent.
    let bad = gateway
        .retrieve_charge("ch_1/../refunds")
        .await
        .unwrap_err();
    assert!(
        matches!(bad, GatewayError::InvalidRequest { .. }),
        "{bad:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, "/v1/charges/ch_1");
}

#[test]
fn a_redirect_next_action_gives_its_url() {
    let mut wire = fixtures()["payment_intent"].clone();
    wire["status"] = "requires_action".into();
    wire["next_action"] = serde_json::json!({
        "type": "redirect_to_url",
        "redirect_to_url": { "url": "https://hooks.example/3ds/pi_1?token=t", "return_url": null }
    });
    let intent = parse_intent(&wire).unwrap();
    assert_eq!(intent.status, IntentStatus::RequiresAction);
    assert_eq!(intent.next_action.as_deref(), Some("redirect_to_url"));
    assert_eq!(
        intent.next_action_url.as_deref(),
        Some("https://hooks.example/3ds/pi_1?token=t")
    );
}
