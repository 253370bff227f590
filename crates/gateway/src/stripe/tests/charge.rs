//! Connector tests for creating and confirming PaymentIntents: the exact request on the wire, the
//! outcome of every class of answer (and non-answer), and the loud errors (idempotency misuse, a
//! bad key). Deliberately absent: refunds, reads and the key-leak sweep (`refunds_and_reads.rs`).

use super::*;

#[tokio::test]
async fn create_sends_stripe_wire_format() {
    let server = Scripted::start(vec![intent_reply("requires_confirmation")]).await;
    // Held the way the engine holds it: behind the object-safe trait.
    let gateway: Arc<dyn Gateway> = Arc::new(gateway(&server.base_url));
    assert_eq!(gateway.name(), "stripe");
    let result = gateway.create_intent(&create_request()).await.unwrap();
    let CreateResult::Created(view) = &result else {
        panic!("{result:?}")
    };
    assert_eq!(view.id.as_str(), "pi_123");
    assert_eq!(view.status, IntentStatus::RequiresConfirmation);
    assert_eq!(view.amount.to_string(), "12.34 EUR");
    assert_eq!(
        result.outcome(),
        CreateOutcome::Created { intent: pi() },
        "conversion to the core's outcome"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/payment_intents");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(
        request.header("idempotency-key"),
        Some("paydesk:create:ORD-1:1")
    );
    assert_eq!(request.header("stripe-version"), Some(STRIPE_VERSION));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        request.body.contains("metadata[order_id]=ORD-1"),
        "literal bracket notation: {}",
        request.body
    );
    let form: BTreeMap<String, String> = request.form().into_iter().collect();
    let expected = [
        ("amount", "1234"),
        ("currency", "eur"),
        ("customer", "cus_1"),
        ("payment_method", "pm_card_visa"),
        ("confirm", "false"),
        ("payment_method_types[0]", "card"),
        ("metadata[order_id]", "ORD-1"),
        (
            "metadata[attempt_id]",
            "01932c4e-7b7a-7cc3-9a7e-2b6f3a5d4e10",
        ),
        ("metadata[attempt_number]", "1"),
        ("metadata[terminal_id]", "T-1"),
        ("metadata[off_session]", "true"),
    ];
    for (key, value) in expected {
        assert_eq!(form.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert_eq!(form.len(), expected.len(), "no other fields: {form:?}");
}

#[tokio::test]
async fn confirm_sends_its_own_key_and_off_session() {
    let server = Scripted::start(vec![intent_reply("succeeded")]).await;
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    assert_eq!(result.outcome(), ChargeOutcome::Succeeded);
    assert_eq!(
        result.intent().unwrap().latest_charge.as_deref(),
        Some("ch_1")
    );
    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/payment_intents/pi_123/confirm");
    assert_eq!(
        request.header("idempotency-key"),
        Some("paydesk:confirm:pi_123")
    );
    assert_eq!(request.body, "off_session=true");
}

/// Runs one confirm against a script and checks the outcome and how many requests were made.
async fn check_confirm(name: &str, acts: Vec<Act>, expected: ChargeOutcome, requests: usize) {
    let server = Scripted::start(acts).await;
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(result.outcome(), expected, "{name}: {result:?}");
    assert_eq!(server.requests().len(), requests, "{name}: request count");
    assert_no_secret_in(&result);
    let keys: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.header("idempotency-key").unwrap_or("").to_string())
        .collect();
    assert!(
        keys.iter().all(|k| k == "paydesk:confirm:pi_123"),
        "{name}: every retry carries the same key: {keys:?}"
    );
}

fn declined(reason: &str) -> ChargeOutcome {
    ChargeOutcome::Declined {
        reason: reason.into(),
    }
}

#[tokio::test]
async fn confirm_outcome_for_every_answer_class() {
    use ChargeOutcome::{RequiresAction, Succeeded, Unknown};
    let card_error = |code: &str, decline: Option<&str>| {
        error(
            402,
            serde_json::json!({
                "type": "card_error", "code": code, "decline_code": decline,
                "message": "Your card was declined.",
                "payment_intent": declined_intent(decline.unwrap_or(code)),
            }),
        )
    };
    let in_use = || {
        error(
            409,
            serde_json::json!({"type": "invalid_request_error", "code": "idempotency_key_in_use",
                "message": "There is currently another in-progress request using this Idempotent Key"}),
        )
    };
    let rate_limited = || {
        error(
            429,
            serde_json::json!({"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}),
        )
    };
    let unexpected_state = || {
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                "message": "You cannot confirm this PaymentIntent because it has a status of succeeded."}),
        )
    };
    let cases: Vec<(&str, Vec<Act>, ChargeOutcome, usize)> = vec![
        (
            "200 succeeded",
            vec![intent_reply("succeeded")],
            Succeeded,
            1,
        ),
        (
            "200 requires_action",
            vec![intent_reply("requires_action")],
            RequiresAction,
            1,
        ),
        (
            "200 requires_payment_method",
            vec![reply(
                200,
                &declined_intent("insufficient_funds").to_string(),
            )],
            declined("insufficient_funds"),
            1,
        ),
        (
            "200 processing",
            vec![intent_reply("processing")],
            Unknown,
            1,
        ),
        ("200 canceled", vec![intent_reply("canceled")], Unknown, 1),
        (
            "200 requires_confirmation",
            vec![intent_reply("requires_confirmation")],
            Unknown,
            1,
        ),
        (
            "200 unknown status",
            vec![intent_reply("teleported")],
            Unknown,
            1,
        ),
        (
            "200 not JSON",
            vec![reply(200, "<html>oops</html>")],
            Unknown,
            1,
        ),
        (
            "200 JSON but not an intent",
            vec![reply(200, r#"{"object":"list"}"#)],
            Unknown,
            1,
        ),
        (
            "200 truncated body",
            vec![truncated(&intent("succeeded").to_string())],
            Unknown,
            1,
        ),
        (
            "402 decline_code",
            vec![card_error("card_declined", Some("insufficient_funds"))],
            declined("insufficient_funds"),
            1,
        ),
        (
            "402 code only",
            vec![card_error("expired_card", None)],
            declined("expired_card"),
            1,
        ),
        (
            "402 authentication_required",
            vec![card_error(
                "authentication_required",
                Some("authentication_required"),
            )],
            RequiresAction,
            1,
        ),
        (
            "402 that is not a card error",
            vec![error(
                402,
                serde_json::json!({"type": "invalid_request_error", "message": "?"}),
            )],
            Unknown,
            1,
        ),
        (
            "500",
            vec![error(500, serde_json::json!({"type": "api_error"}))],
            Unknown,
            1,
        ),
        (
            "503 not JSON",
            vec![reply(503, "Service Unavailable")],
            Unknown,
            1,
        ),
        ("400 not JSON", vec![reply(400, "bad")], Unknown, 1),
        (
            "429 then 200",
            vec![rate_limited(), intent_reply("succeeded")],
            Succeeded,
            2,
        ),
        (
            "409 in use then 200",
            vec![in_use(), intent_reply("succeeded")],
            Succeeded,
            2,
        ),
        (
            "429 persists",
            vec![
                rate_limited(),
                rate_limited(),
                rate_limited(),
                rate_limited(),
            ],
            Unknown,
            4,
        ),
        (
            "409 in use persists",
            vec![in_use(), in_use(), in_use(), in_use()],
            Unknown,
            4,
        ),
        // The second connection is refused (script used up): after a 409 proved a request with
        // this key is executing, that is not "not sent".
        ("409 in use then unreachable", vec![in_use()], Unknown, 1),
        (
            "429 then unreachable",
            vec![rate_limited()],
            ChargeOutcome::NotSent,
            1,
        ),
        (
            "400 unexpected state, intent succeeded",
            vec![unexpected_state(), intent_reply("succeeded")],
            Succeeded,
            2,
        ),
        (
            "400 unexpected state, intent declined earlier",
            vec![
                unexpected_state(),
                reply(200, &declined_intent("do_not_honor").to_string()),
            ],
            declined("do_not_honor"),
            2,
        ),
        (
            "400 unexpected state, intent processing",
            vec![unexpected_state(), intent_reply("processing")],
            Unknown,
            2,
        ),
        (
            "400 unexpected state, retrieve fails",
            vec![unexpected_state(), Act::Close],
            Unknown,
            2,
        ),
        (
            "connection closed after the request",
            vec![Act::Close],
            Unknown,
            1,
        ),
        ("never answers", vec![Act::Hang], Unknown, 1),
    ];
    for (name, acts, expected, requests) in cases {
        check_confirm(name, acts, expected, requests).await;
    }
}

#[tokio::test]
async fn unexpected_state_retrieves_the_intent_by_id() {
    let server = Scripted::start(vec![
        error(
            400,
            serde_json::json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
        ),
        intent_reply("succeeded"),
    ])
    .await;
    let result = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap();
    assert_eq!(result.outcome(), ChargeOutcome::Succeeded);
    let retrieve = &server.requests()[1];
    assert_eq!(retrieve.method, "GET");
    assert_eq!(retrieve.target, "/v1/payment_intents/pi_123");
    assert_eq!(retrieve.header("idempotency-key"), None);
    assert_eq!(retrieve.header("stripe-version"), Some(STRIPE_VERSION));
}

#[tokio::test]
async fn create_outcome_for_every_answer_class() {
    let cases: Vec<(&str, Vec<Act>, CreateOutcome)> = vec![
        (
            "400 no such payment method",
            vec![error(
                400,
                serde_json::json!({"type": "invalid_request_error", "code": "resource_missing",
                    "param": "payment_method", "message": "No such PaymentMethod: 'pm_x'"}),
            )],
            CreateOutcome::Refused {
                reason: "resource_missing".into(),
            },
        ),
        ("500", vec![reply(500, "{}")], CreateOutcome::Unknown),
        (
            "200 not JSON",
            vec![reply(200, "not json")],
            CreateOutcome::Unknown,
        ),
        (
            "closed after request",
            vec![Act::Close],
            CreateOutcome::Unknown,
        ),
        ("never answers", vec![Act::Hang], CreateOutcome::Unknown),
        (
            "409 in use then 200",
            vec![
                error(409, serde_json::json!({"code": "idempotency_key_in_use"})),
                intent_reply("requires_confirmation"),
            ],
            CreateOutcome::Created { intent: pi() },
        ),
    ];
    for (name, acts, expected) in cases {
        let server = Scripted::start(acts).await;
        let result = gateway(&server.base_url)
            .create_intent(&create_request())
            .await
            .unwrap();
        assert_eq!(result.outcome(), expected, "{name}: {result:?}");
    }
}

#[tokio::test]
async fn unreachable_gateway_is_not_sent() {
    let closed = closed_port_url().await;
    // Plain http:// is only for this machine (url_policy), so the unknown host is https.
    for base in [closed.as_str(), "https://paydesk-no-such-host.invalid"] {
        let gateway = gateway(base);
        let create = gateway.create_intent(&create_request()).await.unwrap();
        assert_eq!(
            create.outcome(),
            CreateOutcome::NotSent,
            "{base}: {create:?}"
        );
        let confirm = gateway.confirm_intent(&confirm_request()).await.unwrap();
        assert_eq!(confirm.outcome(), ChargeOutcome::NotSent, "{base}");
        let cancel = gateway
            .cancel_intent(&pi(), &IdempotencyKey::for_cancel(&pi()))
            .await
            .unwrap();
        assert!(matches!(cancel, CancelResult::NotSent { .. }), "{cancel:?}");
        let refund = gateway.refund(&refund_request(None)).await.unwrap();
        assert!(matches!(refund, RefundResult::NotSent { .. }), "{refund:?}");
        let retrieve = gateway.retrieve_intent(&pi()).await.unwrap_err();
        assert!(
            matches!(retrieve, GatewayError::NotSent { .. }),
            "{retrieve:?}"
        );
        assert_error_clean(&retrieve);
    }
}

#[tokio::test]
async fn idempotency_error_is_a_loud_distinct_bug() {
    let logs = LogCapture::install();
    let body = serde_json::json!({"type": "idempotency_error",
        "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."});
    let server = Scripted::start(vec![error(400, body.clone()), error(400, body)]).await;
    let gateway = gateway(&server.base_url);
    let err = gateway.create_intent(&create_request()).await.unwrap_err();
    assert!(
        matches!(&err, GatewayError::IdempotencyKeyReused { key, .. } if key.as_str() == "paydesk:create:ORD-1:1"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("BUG"));
    let err = gateway
        .confirm_intent(&confirm_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::IdempotencyKeyReused { .. }),
        "{err:?}"
    );
    let text = logs.text();
    assert!(
        text.contains("ERROR") && text.contains("idempotency key reused"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_api_key_is_a_configuration_error_without_the_key() {
    // Stripe echoes (part of) the key in its 401 message; this server echoes all of it.
    let server = Scripted::start(vec![error(
        401,
        serde_json::json!({"type": "invalid_request_error",
            "message": format!("Invalid API Key provided: {SECRET_KEY}")}),
    )])
    .await;
    let err = gateway(&server.base_url)
        .confirm_intent(&confirm_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::Authentication { .. }),
        "{err:?}"
    );
    assert_error_clean(&err);
}
