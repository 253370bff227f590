//! PaymentIntents, test cards, cancel rules, refunds, search lag, events and authentication.

use paydesk_sandbox::SandboxConfig;
use serde_json::{json, Value};

use crate::common::{Sandbox, KEY};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn requests_need_a_test_secret_key() {
    let sb = Sandbox::start_with(SandboxConfig {
        api_key: Some(KEY.into()),
        ..SandboxConfig::default()
    })
    .await;
    let url = format!("{}/v1/payment_intents/pi_x", sb.base);
    for auth in [None, Some("sk_live_abc"), Some("sk_test_some_other_key")] {
        let mut req = sb.client.get(&url);
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(!body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk_test_some_other_key"));
    }
    // The right key reaches the API (here: a 404 for an unknown intent, in Stripe's shape).
    let r = sb.get("/v1/payment_intents/pi_x").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error()["code"], "resource_missing");
}

#[tokio::test]
async fn create_validates_like_stripe() {
    let sb = Sandbox::start().await;
    type Form = &'static [(&'static str, &'static str)];
    let cases: &[(Form, &str, &str)] = &[
        (&[("currency", "eur")], "parameter_missing", "amount"),
        (&[("amount", "100")], "parameter_missing", "currency"),
        (
            &[("amount", "-1"), ("currency", "eur")],
            "parameter_invalid_integer",
            "amount",
        ),
        (
            &[("amount", "1.5"), ("currency", "eur")],
            "parameter_invalid_integer",
            "amount",
        ),
        (
            &[("amount", "100"), ("currency", "zzz")],
            "parameter_invalid_string",
            "currency",
        ),
        (
            &[
                ("amount", "100"),
                ("currency", "eur"),
                ("payment_method", "pm_card_nope"),
            ],
            "resource_missing",
            "payment_method",
        ),
    ];
    for (form, code, param) in cases {
        let r = sb.post("/v1/payment_intents", form, None).await;
        assert_eq!(r.status, 400, "{form:?}");
        assert_eq!(r.error()["type"], "invalid_request_error");
        assert_eq!(r.error()["code"], *code, "{form:?}");
        assert_eq!(r.error()["param"], *param, "{form:?}");
    }
    assert!(sb.ledger().await["intents"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_intent_succeeds_at_most_once() {
    let sb = Sandbox::start().await;
    let pi = sb.create(2500, "pm_card_visa", "O-1").await;
    assert_eq!(pi["status"], "requires_confirmation");
    assert_eq!(pi["amount_received"], 0);
    let ok = sb.confirm(id(&pi), "c1").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["status"], "succeeded");
    assert_eq!(ok.body["amount_received"], 2500);
    assert!(ok.body["latest_charge"]
        .as_str()
        .unwrap()
        .starts_with("ch_"));
    for key in ["c2", "c3"] {
        let again = sb.confirm(id(&pi), key).await;
        assert_eq!(again.status, 400);
        assert_eq!(again.error()["code"], "payment_intent_unexpected_state");
        assert_eq!(again.error()["payment_intent"]["status"], "succeeded");
    }
    let charge = sb
        .get(&format!(
            "/v1/charges/{}",
            ok.body["latest_charge"].as_str().unwrap()
        ))
        .await;
    assert_eq!(charge.body["status"], "succeeded");
    assert_eq!(charge.body["payment_intent"], pi["id"]);
    let ledger = sb.ledger().await;
    assert_eq!(ledger["intents"][0]["succeeded_count"], 1);
    assert_eq!(ledger["intents"][0]["metadata"]["order_id"], "O-1");
}

/// (payment method, off_session, HTTP status, resulting intent status, code, decline_code)
type CardCase = (
    &'static str,
    bool,
    u16,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);
const CARD_CASES: &[CardCase] = &[
    ("pm_card_visa", true, 200, "succeeded", None, None),
    ("pm_card_mastercard", false, 200, "succeeded", None, None),
    (
        "pm_card_chargeDeclined",
        true,
        402,
        "requires_payment_method",
        Some("card_declined"),
        Some("generic_decline"),
    ),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        true,
        402,
        "requires_payment_method",
        Some("card_declined"),
        Some("insufficient_funds"),
    ),
    (
        "pm_card_chargeDeclinedExpiredCard",
        true,
        402,
        "requires_payment_method",
        Some("expired_card"),
        Some("expired_card"),
    ),
    (
        "pm_card_chargeDeclinedFraudulent",
        true,
        402,
        "requires_payment_method",
        Some("card_declined"),
        Some("fraudulent"),
    ),
    (
        "pm_card_chargeDeclinedStolenCard",
        true,
        402,
        "requires_payment_method",
        Some("card_declined"),
        Some("stolen_card"),
    ),
    (
        "pm_card_authenticationRequired",
        true,
        402,
        "requires_payment_method",
        Some("authentication_required"),
        Some("authentication_required"),
    ),
    (
        "pm_card_authenticationRequired",
        false,
        200,
        "requires_action",
        None,
        None,
    ),
];

#[tokio::test]
async fn every_test_card_has_its_outcome() {
    let sb = Sandbox::start().await;
    for (n, (pm, off_session, http, status, code, decline)) in CARD_CASES.iter().enumerate() {
        let off = off_session.to_string();
        let order = format!("O-{n}");
        let r = sb
            .post(
                "/v1/payment_intents",
                &[
                    ("amount", "999"),
                    ("currency", "usd"),
                    ("payment_method", pm),
                    ("confirm", "true"),
                    ("off_session", &off),
                    ("metadata[order_id]", &order),
                ],
                Some(&order),
            )
            .await;
        assert_eq!(r.status, *http, "{pm} off_session={off}: {:?}", r.body);
        let intent = if *http == 200 {
            &r.body
        } else {
            &r.error()["payment_intent"]
        };
        assert_eq!(intent["status"], *status, "{pm}");
        match code {
            None => assert!(r.body.get("error").is_none()),
            Some(code) => {
                assert_eq!(r.error()["type"], "card_error", "{pm}");
                assert_eq!(r.error()["code"], *code, "{pm}");
                assert_eq!(r.error()["decline_code"], decline.unwrap(), "{pm}");
                // The issuer's advice, as Stripe passes it on: never again for a stolen card,
                // later for missing funds, new details for a wrong or expired card.
                let advice = match decline.unwrap() {
                    "stolen_card" => json!("do_not_try_again"),
                    "insufficient_funds" => json!("try_again_later"),
                    "expired_card" | "incorrect_cvc" => json!("confirm_card_data"),
                    _ => Value::Null,
                };
                assert_eq!(r.error()["advice_code"], advice, "{pm}");
                assert_eq!(intent["last_payment_error"]["advice_code"], advice, "{pm}");
                assert_eq!(intent["last_payment_error"]["code"], *code, "{pm}");
                assert_eq!(intent["last_payment_error"]["payment_method"]["id"], *pm);
                assert_eq!(intent["amount_received"], 0);
            }
        }
        if *status == "requires_action" {
            // Stripe's redirect shape, leading to the sandbox's own 3-D Secure page.
            assert_eq!(intent["next_action"]["type"], "redirect_to_url");
            assert!(intent["next_action"]["redirect_to_url"]["url"]
                .as_str()
                .is_some_and(|u| u.contains("/3ds/authenticate/")));
        }
    }
    let ledger = sb.ledger().await;
    let succeeded: Vec<u64> = ledger["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["succeeded_count"].as_u64().unwrap())
        .collect();
    assert_eq!(succeeded, vec![1, 1, 0, 0, 0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_declined_intent_can_be_confirmed_again_with_another_card() {
    let sb = Sandbox::start().await;
    let pi = sb
        .create(1000, "pm_card_chargeDeclinedInsufficientFunds", "O-1")
        .await;
    assert_eq!(sb.confirm(id(&pi), "c1").await.status, 402);
    let after = sb.intent(id(&pi)).await;
    assert_eq!(after["status"], "requires_payment_method");
    assert_eq!(after["payment_method"], Value::Null);
    let ok = sb
        .post(
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            &[("payment_method", "pm_card_visa")],
            Some("c2"),
        )
        .await;
    assert_eq!(ok.body["status"], "succeeded");
    assert_eq!(ok.body["last_payment_error"], Value::Null);
    // Without any payment method a confirm is refused.
    let bare = sb
        .post(
            "/v1/payment_intents",
            &[("amount", "100"), ("currency", "eur")],
            None,
        )
        .await;
    assert_eq!(bare.body["status"], "requires_payment_method");
    let r = sb.confirm(id(&bare.body), "c3").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error()["param"], "payment_method");
}

#[tokio::test]
async fn authentication_can_be_completed_through_the_admin_api() {
    let sb = Sandbox::start().await;
    let pi = sb
        .create(1000, "pm_card_authenticationRequired", "O-1")
        .await;
    assert_eq!(
        sb.confirm(id(&pi), "c1").await.body["status"],
        "requires_action"
    );
    let done = sb
        .admin(
            &format!("/admin/payment_intents/{}/authenticate", id(&pi)),
            json!({}),
        )
        .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(sb.ledger().await["intents"][0]["succeeded_count"], 1);
}

#[tokio::test]
async fn cancel_rules() {
    let sb = Sandbox::start().await;
    let pi = sb.create(1000, "pm_card_visa", "O-1").await;
    let path = format!("/v1/payment_intents/{}/cancel", id(&pi));
    let c = sb
        .post(
            &path,
            &[("cancellation_reason", "requested_by_customer")],
            Some("x1"),
        )
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(c.body["status"], "canceled");
    assert_eq!(c.body["cancellation_reason"], "requested_by_customer");
    assert!(c.body["canceled_at"].is_i64());
    let again = sb.post(&path, &[], Some("x2")).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error()["code"], "payment_intent_unexpected_state");
    let confirm = sb.confirm(id(&pi), "c1").await;
    assert_eq!(confirm.status, 400);
    assert_eq!(confirm.error()["code"], "payment_intent_unexpected_state");
    assert_eq!(confirm.error()["payment_intent"]["status"], "canceled");

    let paid = sb.create(1000, "pm_card_visa", "O-2").await;
    sb.confirm(id(&paid), "c2").await;
    let refused = sb
        .post(
            &format!("/v1/payment_intents/{}/cancel", id(&paid)),
            &[],
            Some("x3"),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error()["code"], "payment_intent_unexpected_state");
    assert_eq!(sb.intent(id(&paid)).await["status"], "succeeded");

    let unknown = sb
        .post("/v1/payment_intents/pi_nope/cancel", &[], None)
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error()["code"], "resource_missing");
}

#[tokio::test]
async fn refunds_full_partial_and_over() {
    let sb = Sandbox::start().await;
    let pi = sb.create(1000, "pm_card_visa", "O-1").await;
    let pi_id = id(&pi);
    let unpaid = sb
        .post("/v1/refunds", &[("payment_intent", pi_id)], Some("r0"))
        .await;
    assert_eq!(unpaid.status, 400, "nothing to refund before success");
    sb.confirm(pi_id, "c1").await;

    let part = sb
        .post(
            "/v1/refunds",
            &[("payment_intent", pi_id), ("amount", "300")],
            Some("r1"),
        )
        .await;
    assert_eq!(part.status, 200);
    assert_eq!(part.body["object"], "refund");
    assert_eq!(part.body["amount"], 300);
    assert_eq!(part.body["status"], "succeeded");
    assert_eq!(part.body["payment_intent"], pi_id);

    let over = sb
        .post(
            "/v1/refunds",
            &[("payment_intent", pi_id), ("amount", "701")],
            Some("r2"),
        )
        .await;
    assert_eq!(over.status, 400);
    assert_eq!(over.error()["param"], "amount");

    let rest = sb
        .post("/v1/refunds", &[("payment_intent", pi_id)], Some("r3"))
        .await;
    assert_eq!(
        rest.body["amount"], 700,
        "without amount, the remainder is refunded"
    );
    let none_left = sb
        .post(
            "/v1/refunds",
            &[("payment_intent", pi_id), ("amount", "1")],
            Some("r4"),
        )
        .await;
    assert_eq!(none_left.status, 400);
    assert_eq!(none_left.error()["code"], "charge_already_refunded");

    let fetched = sb.get(&format!("/v1/refunds/{}", id(&part.body))).await;
    assert_eq!(fetched.body, part.body);
    let ledger = sb.ledger().await;
    assert_eq!(ledger["intents"][0]["amount_refunded"], 1000);
    assert_eq!(ledger["intents"][0]["refunds"].as_array().unwrap().len(), 2);
    let charge = sb
        .get(&format!(
            "/v1/charges/{}",
            part.body["charge"].as_str().unwrap()
        ))
        .await;
    assert_eq!(charge.body["refunded"], true);
    assert_eq!(charge.body["amount_refunded"], 1000);
}

#[tokio::test]
async fn search_misses_before_the_lag_and_finds_after() {
    let sb = Sandbox::start_with(SandboxConfig {
        search_lag_ms: 60_000,
        ..SandboxConfig::default()
    })
    .await;
    let pi = sb.create(1000, "pm_card_visa", "O-42").await;
    sb.create(1000, "pm_card_visa", "O-43").await;
    let query = format!(
        "/v1/payment_intents/search?query={}",
        crate::common::enc("metadata['order_id']:'O-42'")
    );
    let before = sb.get(&query).await;
    assert_eq!(before.status, 200);
    assert_eq!(before.body["object"], "search_result");
    assert_eq!(before.body["data"], json!([]));
    assert_eq!(before.body["has_more"], false);
    assert_eq!(before.body["next_page"], Value::Null);

    sb.advance_clock_ms(60_000).await;
    let after = sb.get(&query).await;
    let data = after.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], pi["id"]);

    sb.confirm(id(&pi), "c1").await;
    let q = |s: &str| format!("/v1/payment_intents/search?query={}", crate::common::enc(s));
    let succeeded = sb
        .get(&q("metadata['order_id']:'O-42' AND status:'succeeded'"))
        .await;
    assert_eq!(succeeded.body["data"].as_array().unwrap().len(), 1);
    let other = sb
        .get(&q("metadata['order_id']:'O-43' AND status:'succeeded'"))
        .await;
    assert_eq!(other.body["data"], json!([]));
    let paged = sb.get(&format!("{}&limit=1", q("currency:'eur'"))).await;
    assert_eq!(paged.body["has_more"], true);
    let next = paged.body["next_page"].as_str().unwrap();
    let page2 = sb
        .get(&format!("{}&limit=1&page={next}", q("currency:'eur'")))
        .await;
    assert_eq!(page2.body["has_more"], false);
    assert_ne!(page2.body["data"][0]["id"], paged.body["data"][0]["id"]);
    let bad = sb
        .get(&q("metadata['order_id']:'O-42' OR status:'x'"))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error()["param"], "query");
}

#[tokio::test]
async fn search_lag_can_be_changed_at_run_time() {
    let sb = Sandbox::start_with(SandboxConfig::default()).await;
    let q = format!(
        "/v1/payment_intents/search?query={}",
        crate::common::enc("metadata['order_id']:'O-1'")
    );
    sb.create(1000, "pm_card_visa", "O-1").await;
    assert_eq!(
        sb.get(&q).await.body["data"],
        json!([]),
        "default lag hides it"
    );
    sb.admin("/admin/search_lag", json!({ "lag_ms": 0 })).await;
    assert_eq!(sb.get(&q).await.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn events_are_listed_newest_first_with_cursors() {
    let sb = Sandbox::start().await;
    let pi = sb.create(1000, "pm_card_visa", "O-1").await;
    sb.confirm(id(&pi), "confirm-key").await;
    let all = sb.get("/v1/events").await;
    assert_eq!(all.body["object"], "list");
    let types: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "payment_intent.succeeded",
            "charge.succeeded",
            "payment_intent.created"
        ]
    );
    let newest = &all.body["data"][0];
    assert_eq!(newest["data"]["object"]["id"], pi["id"]);
    assert_eq!(newest["request"]["idempotency_key"], "confirm-key");
    let first = sb.get("/v1/events?limit=1").await;
    assert_eq!(first.body["has_more"], true);
    assert_eq!(first.body["data"].as_array().unwrap().len(), 1);
    let next = sb
        .get(&format!(
            "/v1/events?limit=2&starting_after={}",
            id(&first.body["data"][0])
        ))
        .await;
    assert_eq!(
        next.body["data"],
        json!(all.body["data"].as_array().unwrap()[1..])
    );
    assert_eq!(next.body["has_more"], false);
    let one = sb.get(&format!("/v1/events/{}", id(newest))).await;
    assert_eq!(&one.body, newest);
    assert_eq!(sb.get("/v1/events/evt_nope").await.status, 404);
}

#[tokio::test]
async fn events_filter_by_types_and_created_as_stripe_does() {
    let sb = Sandbox::start().await;
    let pi = sb.create(1000, "pm_card_visa", "O-1").await;
    sb.confirm(id(&pi), "confirm-key").await;
    let types_of = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect()
    };
    let some = sb
        .get("/v1/events?types[]=payment_intent.succeeded&types[]=payment_intent.created")
        .await;
    assert_eq!(
        types_of(&some.body),
        ["payment_intent.succeeded", "payment_intent.created"]
    );
    let created = sb.get("/v1/events?limit=1").await.body["data"][0]["created"]
        .as_i64()
        .unwrap();
    let from_now = sb.get(&format!("/v1/events?created[gte]={created}")).await;
    assert_eq!(types_of(&from_now.body).len(), 3);
    let future = sb
        .get(&format!("/v1/events?created[gt]={}", created + 3600))
        .await;
    assert_eq!(future.body["data"], json!([]));
    let exact = sb.get(&format!("/v1/events?created={created}")).await;
    assert_eq!(types_of(&exact.body).len(), 3);
    assert_eq!(sb.get("/v1/events?created[gte]=soon").await.status, 400);
    assert_eq!(sb.get("/v1/events?created[since]=1").await.status, 400);
}

#[tokio::test]
async fn reset_forgets_everything() {
    let sb = Sandbox::start().await;
    sb.create(1000, "pm_card_visa", "O-1").await;
    sb.fault("any:http_500:5").await;
    sb.admin("/admin/reset", json!({})).await;
    let ledger = sb.ledger().await;
    assert_eq!(ledger["intents"], json!([]));
    assert_eq!(ledger["idempotency_keys"], json!([]));
    assert_eq!(ledger["faults"], json!([]));
    assert_eq!(sb.get("/v1/events").await.body["data"], json!([]));
}
