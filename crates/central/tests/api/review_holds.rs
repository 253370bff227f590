//! Orders held for review: a terminal's `needs_review` result (online or offline) holds the
//! order, the sweeper settles it from the gateway's evidence (the sandbox gateway, through the
//! real connector), a later result of the same attempt still applies, and a later non-success
//! or an offline result never clears the hold.

use std::sync::Arc;

use paydesk_central::gateway_lookup::GatewayLookup;
use paydesk_central::sweeper::{sweep_once, IntentLookup};
use paydesk_core::{
    AttemptId, AttemptNumber, GatewayIntentId, IdempotencyKey, Money, OrderId, TerminalId,
};
use paydesk_gateway::{
    ApiKey, ConfirmRequest, CreateIntentRequest, CreateResult, Gateway, IntentMetadata,
    StripeConfig, StripeGateway,
};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const KEY: &str = "sk_test_paydesk_central_review_key";
/// The claim token offline attempts carry (the engine's `OFFLINE_CLAIM_TOKEN`).
const OFFLINE_TOKEN: u64 = i64::MAX as u64;

fn offline(item: Value) -> Value {
    offline_now(item)
}

fn statuses(resp: &Value) -> Vec<String> {
    resp["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect()
}

/// Creates an intent of 12.50 EUR for (order, attempt) at the gateway, as a terminal would.
async fn create(gateway: &StripeGateway, order: &str, attempt: u64, pm: &str) -> String {
    let order_id = OrderId::new(order).unwrap();
    let attempt = AttemptNumber::new(attempt as u32).unwrap();
    let created = gateway
        .create_intent(&CreateIntentRequest {
            amount: Money::parse("12.50 EUR").unwrap(),
            customer: Some("cus_test".to_string()),
            payment_method: pm.to_string(),
            off_session: true,
            metadata: IntentMetadata {
                order: order_id.clone(),
                attempt: AttemptId::parse(&attempt_id()).unwrap(),
                attempt_number: attempt,
                terminal: TerminalId::new("t1").unwrap(),
            },
            key: IdempotencyKey::for_create(&order_id, attempt),
        })
        .await
        .unwrap();
    let CreateResult::Created(view) = created else {
        panic!("create: {created:?}")
    };
    view.id.as_str().to_string()
}

async fn confirm(gateway: &StripeGateway, intent: &str) {
    let intent = GatewayIntentId::new(intent).unwrap();
    gateway
        .confirm_intent(&ConfirmRequest {
            intent: intent.clone(),
            off_session: true,
            key: IdempotencyKey::for_confirm(&intent),
        })
        .await
        .unwrap();
}

/// Claims `order` on `term` and registers a freshly created intent; returns (token, attempt,
/// intent).
async fn claim_and_create(
    app: &TestApp,
    gateway: &StripeGateway,
    term: &str,
    order: &str,
    pm: &str,
) -> (u64, u64, String) {
    let (s, claim) = app.claim(term, order, "alice").await;
    assert_eq!(s, 201, "{claim}");
    let tok = claim["claim_token"].as_u64().unwrap();
    let att = claim["attempt_number"].as_u64().unwrap();
    let intent = create(gateway, order, att, pm).await;
    let (s, b) = app
        .post(
            &format!("/v1/orders/{order}/intent"),
            term,
            json!({"claim_token": tok, "attempt_number": att, "intent_id": intent}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (tok, att, intent)
}

fn status(o: &Value) -> String {
    o["order"]["status"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_needs_review_result_holds_the_order_and_the_sweeper_settles_it_from_the_gateway() {
    let sandbox = paydesk_sandbox::spawn(paydesk_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let gateway = Arc::new(
        StripeGateway::new(
            ApiKey::new(KEY).unwrap(),
            StripeConfig {
                base_url: sandbox.base_url.clone(),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let lookup: Arc<dyn IntentLookup> = Arc::new(GatewayLookup::new(gateway.clone()));
    for db in [Db::Sqlite, Db::Postgres] {
        let app = TestApp::spawn(
            db,
            TestOptions {
                gateway: Some(lookup.clone()),
                ..Default::default()
            },
        )
        .await;
        let p = format!("{db:?}").to_lowercase();
        let [paid, off, declined, canceled, pending] =
            ["paid", "off", "declined", "canceled", "pending"].map(|o| format!("rv-{p}-{o}"));
        app.orders(&[
            (&paid, 1250, "EUR"),
            (&off, 1250, "EUR"),
            (&declined, 1250, "EUR"),
            (&canceled, 1250, "EUR"),
            (&pending, 1250, "EUR"),
        ])
        .await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        app.grant_now("t1").await;
        let mut items = Vec::new();

        // Online, the charge went through but the terminal never learned it.
        let (tok, att, pi_paid) =
            claim_and_create(&app, &gateway, &t1, &paid, "pm_card_visa").await;
        confirm(&gateway, &pi_paid).await;
        items.push(result_item(
            &attempt_id(),
            &paid,
            att,
            tok,
            "needs_review",
            1250,
            "EUR",
            Some(&pi_paid),
        ));
        // Offline (never registered at the central), the charge went through.
        let pi_off = create(&gateway, &off, 1, "pm_card_visa").await;
        confirm(&gateway, &pi_off).await;
        items.push(offline(result_item(
            &attempt_id(),
            &off,
            1,
            OFFLINE_TOKEN,
            "needs_review",
            1250,
            "EUR",
            Some(&pi_off),
        )));
        // Online, declined.
        let (tok, att, pi_declined) =
            claim_and_create(&app, &gateway, &t1, &declined, "pm_card_chargeDeclined").await;
        confirm(&gateway, &pi_declined).await;
        items.push(result_item(
            &attempt_id(),
            &declined,
            att,
            tok,
            "needs_review",
            1250,
            "EUR",
            Some(&pi_declined),
        ));
        // Online, canceled at the gateway.
        let (tok, att, pi_canceled) =
            claim_and_create(&app, &gateway, &t1, &canceled, "pm_card_visa").await;
        let id = GatewayIntentId::new(pi_canceled.clone()).unwrap();
        gateway
            .cancel_intent(&id, &IdempotencyKey::for_cancel(&id))
            .await
            .unwrap();
        items.push(result_item(
            &attempt_id(),
            &canceled,
            att,
            tok,
            "needs_review",
            1250,
            "EUR",
            Some(&pi_canceled),
        ));
        // Online, still confirmable.
        let (tok_pending, att_pending, pi_pending) =
            claim_and_create(&app, &gateway, &t1, &pending, "pm_card_visa").await;
        let pending_attempt = attempt_id();
        items.push(result_item(
            &pending_attempt,
            &pending,
            att_pending,
            tok_pending,
            "needs_review",
            1250,
            "EUR",
            Some(&pi_pending),
        ));

        let (s, resp) = app.post("/v1/results", &t1, batch(1, items)).await;
        assert_eq!(s, 200, "{resp}");
        assert_eq!(statuses(&resp), ["applied"; 5], "{db:?}: {resp}");
        for order in [&paid, &off, &declined, &canceled, &pending] {
            let o = app.order(order).await;
            assert_eq!(
                status(&o),
                "needs_review",
                "{db:?} {order}: held for review: {o}"
            );
            // Not released as if nothing had been charged: nobody can claim it.
            let (s, body) = app.claim(&t2, order, "alice").await;
            assert_eq!(s, 409, "{db:?} {order}: {body}");
            assert_eq!(body["error"]["code"], "order_not_chargeable", "{body}");
        }

        let report = sweep_once(
            &app.store,
            Some(lookup.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap();
        assert_eq!(report.settled_unknown, 4, "{db:?}: {report:?}");
        let o = app.order(&paid).await;
        assert_eq!(
            (status(&o), o["order"]["paid_intent_id"].clone()),
            ("paid".to_string(), json!(pi_paid)),
            "{db:?}"
        );
        let o = app.order(&off).await;
        assert_eq!(
            (status(&o), o["order"]["paid_intent_id"].clone()),
            ("paid".to_string(), json!(pi_off)),
            "{db:?}: the offline charge is found: {o}"
        );
        assert_eq!(status(&app.order(&declined).await), "failed", "{db:?}");
        assert_eq!(status(&app.order(&canceled).await), "unpaid", "{db:?}");
        // Still confirmable: stays held and listed, re-checked on every pass.
        assert_eq!(status(&app.order(&pending).await), "needs_review", "{db:?}");
        let listed = app.store.unknown_outcomes(100).await.unwrap();
        assert_eq!(listed.len(), 1, "{db:?}: {listed:?}");
        assert_eq!(listed[0].order_id.as_str(), pending.as_str());
        let report = sweep_once(
            &app.store,
            Some(lookup.as_ref()),
            paydesk_central::clock::now(),
        )
        .await
        .unwrap();
        assert_eq!(report.settled_unknown, 0, "{db:?}");

        // The terminal settles its own attempt: the later result of the same attempt applies.
        confirm(&gateway, &pi_pending).await;
        let (_, resp) = app
            .post(
                "/v1/results",
                &t1,
                batch(
                    2,
                    vec![result_item(
                        &pending_attempt,
                        &pending,
                        att_pending,
                        tok_pending,
                        "succeeded",
                        1250,
                        "EUR",
                        Some(&pi_pending),
                    )],
                ),
            )
            .await;
        assert_eq!(statuses(&resp), ["applied"], "{db:?}: {resp}");
        let o = app.order(&pending).await;
        assert_eq!(status(&o), "paid", "{db:?}: {o}");
        assert_eq!(o["order"]["paid_intent_id"], pi_pending.as_str());
        assert_eq!(
            o["results"].as_array().unwrap().len(),
            2,
            "both reports kept: {o}"
        );
        // Each report still applies once.
        let (_, resp) = app
            .post(
                "/v1/results",
                &t1,
                batch(
                    3,
                    vec![
                        result_item(
                            &pending_attempt,
                            &pending,
                            att_pending,
                            tok_pending,
                            "needs_review",
                            1250,
                            "EUR",
                            Some(&pi_pending),
                        ),
                        result_item(
                            &pending_attempt,
                            &pending,
                            att_pending,
                            tok_pending,
                            "succeeded",
                            1250,
                            "EUR",
                            Some(&pi_pending),
                        ),
                    ],
                ),
            )
            .await;
        assert_eq!(
            statuses(&resp),
            ["duplicate", "duplicate"],
            "{db:?}: {resp}"
        );
        let (_, flags) = app.get("/v1/flags", ADMIN_TOKEN).await;
        assert_eq!(
            flags["flags"].as_array().unwrap().len(),
            0,
            "{db:?}: {flags}"
        );
        app.stop().await;
    }
    sandbox.shutdown().await;
}

both_backends! {
    async fn a_review_hold_is_not_cleared_by_a_later_decline_or_an_offline_result(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        let t2 = app.terminal("t2").await;
        app.grant_now("t2").await;

        // o-1 is charged twice (online, then offline): held for review.
        let (tok, att) = crate::webhooks::registered(app, &t1, "o-1", "pi_1").await;
        app.gateway_paid("pi_1", "o-1").await;
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![
            result_item(&attempt_id(), "o-1", att, tok, "succeeded", 1250, "EUR", Some("pi_1")),
        ])).await;
        assert_eq!(statuses(&resp), ["applied"]);
        let (_, resp) = app.post("/v1/results", &t2, batch(1, vec![offline(
            result_item(&attempt_id(), "o-1", 2, OFFLINE_TOKEN, "succeeded", 1250, "EUR",
                Some("pi_2")),
        )])).await;
        assert_eq!(statuses(&resp), ["flagged"]);
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        // A later offline decline, cancel or requires-action is history, not a way out.
        for outcome in ["declined", "canceled", "requires_action"] {
            let (_, resp) = app.post("/v1/results", &t2, batch(2, vec![offline(
                result_item(&attempt_id(), "o-1", 3, OFFLINE_TOKEN, outcome, 1250, "EUR",
                    Some("pi_3")),
            )])).await;
            assert_eq!(statuses(&resp), ["applied"], "{outcome}: {resp}");
            let o = app.order("o-1").await;
            assert_eq!(o["order"]["status"], "needs_review", "{outcome}: {o}");
        }
        // An offline success of yet another intent is recorded and flagged; the hold stays.
        let (_, resp) = app.post("/v1/results", &t2, batch(3, vec![offline(
            result_item(&attempt_id(), "o-1", 4, OFFLINE_TOKEN, "succeeded", 1250, "EUR",
                Some("pi_4")),
        )])).await;
        assert_eq!(statuses(&resp), ["flagged"], "{resp}");
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");

        // o-2: t1 holds it online when t2's offline attempt of it goes to review; t1's own
        // decline must not clear that hold (the offline charge may have gone through).
        let (s, claim) = app.claim(&t1, "o-2", "alice").await;
        assert_eq!(s, 201, "{claim}");
        let (tok, att) = (claim["claim_token"].as_u64().unwrap(),
            claim["attempt_number"].as_u64().unwrap());
        let (_, resp) = app.post("/v1/results", &t2, batch(4, vec![offline(
            result_item(&attempt_id(), "o-2", att, OFFLINE_TOKEN, "needs_review", 1250, "EUR",
                Some("pi_off")),
        )])).await;
        assert_eq!(statuses(&resp), ["applied"], "{resp}");
        assert_eq!(app.order("o-2").await["order"]["status"], "needs_review");
        let (_, resp) = app.post("/v1/results", &t1, batch(2, vec![
            result_item(&attempt_id(), "o-2", att, tok, "declined", 1250, "EUR", Some("pi_on")),
        ])).await;
        assert_eq!(statuses(&resp), ["applied"], "{resp}");
        let o = app.order("o-2").await;
        assert_eq!(o["order"]["status"], "needs_review", "{o}");
        assert_eq!(o["order"]["claim"], Value::Null, "the holder's own result ends its claim");
        let (_, claim) = app.claim(&t1, "o-2", "alice").await;
        assert_eq!(claim["error"]["code"], "order_not_chargeable", "{claim}");
    }
}

both_backends! {
    async fn an_attempt_held_for_review_is_settled_by_its_own_later_result(app) {
        app.orders(&[("o-1", 1250, "EUR"), ("o-2", 1250, "EUR")]).await;
        app.operators(&["alice"]).await;
        let t1 = app.terminal("t1").await;
        app.grant_now("t1").await;
        // The create's answer was lost: no intent is known, the order is held for review.
        let (_, claim) = app.claim(&t1, "o-1", "alice").await;
        let (tok, att) = (claim["claim_token"].as_u64().unwrap(),
            claim["attempt_number"].as_u64().unwrap());
        let a = attempt_id();
        let (_, resp) = app.post("/v1/results", &t1, batch(1, vec![
            result_item(&a, "o-1", att, tok, "needs_review", 1250, "EUR", None),
        ])).await;
        assert_eq!(statuses(&resp), ["applied"]);
        assert_eq!(app.order("o-1").await["order"]["status"], "needs_review");
        // The terminal later learns from the gateway that nothing was charged.
        let (_, resp) = app.post("/v1/results", &t1, batch(2, vec![
            result_item(&a, "o-1", att, tok, "canceled", 1250, "EUR", None),
        ])).await;
        assert_eq!(statuses(&resp), ["applied"], "{resp}");
        assert_eq!(app.order("o-1").await["order"]["status"], "unpaid", "chargeable again");
        let (s, claim) = app.claim(&t1, "o-1", "alice").await;
        assert_eq!(s, 201, "{claim}");

        // Offline, the same: its own decline settles it.
        let b = attempt_id();
        let (_, resp) = app.post("/v1/results", &t1, batch(3, vec![offline(
            result_item(&b, "o-2", 1, OFFLINE_TOKEN, "needs_review", 1250, "EUR", Some("pi_b")),
        )])).await;
        assert_eq!(statuses(&resp), ["applied"]);
        let (_, resp) = app.post("/v1/results", &t1, batch(4, vec![offline(
            result_item(&b, "o-2", 1, OFFLINE_TOKEN, "declined", 1250, "EUR", Some("pi_b")),
        )])).await;
        assert_eq!(statuses(&resp), ["applied"], "{resp}");
        let o = app.order("o-2").await;
        assert_eq!(o["order"]["status"], "failed", "{o}");
    }
}
