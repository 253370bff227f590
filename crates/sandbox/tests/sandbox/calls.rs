//! `/admin/calls`: every routed `/v1` request with an accepted key is counted per key and
//! endpoint, whatever its answer; unknown URLs and refused keys are not; DELETE and reset zero it.

use serde_json::{json, Value};

use crate::common::{Sandbox, KEY};

async fn calls(sb: &Sandbox) -> Value {
    sb.client
        .get(format!("{}/admin/calls", sb.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn requests_are_counted_per_key_and_endpoint() {
    let sb = Sandbox::start().await;
    assert_eq!(calls(&sb).await["total"], 0);

    let intent = sb.create(1500, "pm_card_visa", "O-1").await;
    let id = intent["id"].as_str().unwrap();
    // A 429 from the fault plan is a call too, and so is the retry that succeeds.
    sb.fault("confirm:http_429:1").await;
    assert_eq!(sb.confirm(id, "confirm-O-1").await.status, 429);
    assert_eq!(sb.confirm(id, "confirm-O-1").await.status, 200);
    // A replay under the same key is a round trip as well.
    assert_eq!(sb.confirm(id, "confirm-O-1").await.status, 200);
    sb.intent(id).await;

    // Another key gets its own row.
    let other = sb
        .client
        .get(format!("{}/v1/payment_intents/{id}", sb.base))
        .bearer_auth("sk_test_another_client")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    // Not counted: an unknown URL, and a request without an accepted key.
    assert_eq!(sb.get("/v1/nothing_here").await.status, 404);
    let refused = sb
        .client
        .get(format!("{}/v1/payment_intents/{id}", sb.base))
        .bearer_auth("not_a_key")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let view = calls(&sb).await;
    assert_eq!(view["total"], 6, "{view}");
    assert_eq!(
        view["by_endpoint"],
        json!({ "confirm": 3, "create": 1, "retrieve": 2 })
    );
    let ours = paydesk_sandbox::keys::redact(KEY);
    let theirs = paydesk_sandbox::keys::redact("sk_test_another_client");
    // Sorted by redacted key ("sk_test_****ests" before "sk_test_****ient"), then endpoint.
    assert_eq!(
        view["calls"],
        json!([
            { "key": ours, "endpoint": "confirm", "calls": 3 },
            { "key": ours, "endpoint": "create", "calls": 1 },
            { "key": ours, "endpoint": "retrieve", "calls": 1 },
            { "key": theirs, "endpoint": "retrieve", "calls": 1 },
        ])
    );
    assert!(!view.to_string().contains(KEY), "keys are shown redacted");

    // DELETE answers what was counted and starts again from zero.
    let cleared: Value = sb
        .client
        .delete(format!("{}/admin/calls", sb.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["total"], 6);
    assert_eq!(calls(&sb).await["total"], 0);

    sb.intent(id).await;
    assert_eq!(calls(&sb).await["total"], 1);
    sb.admin("/admin/reset", json!({})).await;
    assert_eq!(calls(&sb).await["total"], 0);
}
