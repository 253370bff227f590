//! The customer's 3-D Secure page: an intent in `requires_action` names it in Stripe's
//! `next_action.redirect_to_url`, the page opens only with its token, and its buttons complete or
//! fail the authentication at the sandbox (events and ledger as a real completion).

use serde_json::Value;

use crate::common::Sandbox;

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("an id")
}

/// A fresh intent for the 3-D Secure test card, confirmed: (intent id, its redirect url).
async fn waiting(sb: &Sandbox) -> (String, String) {
    let pi = sb
        .create(2500, "pm_card_authenticationRequired", "O-3DS")
        .await;
    let confirmed = sb.confirm(id(&pi), "c1").await.body;
    assert_eq!(confirmed["status"], "requires_action");
    assert_eq!(confirmed["next_action"]["type"], "redirect_to_url");
    let url = confirmed["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .expect("a redirect url")
        .to_string();
    assert!(
        url.starts_with(&format!("{}/3ds/authenticate/{}?token=", sb.base, id(&pi))),
        "{url}"
    );
    // A retrieve shows the same url.
    assert_eq!(
        sb.intent(id(&pi)).await["next_action"]["redirect_to_url"]["url"],
        url.as_str()
    );
    (id(&pi).to_string(), url)
}

async fn press(sb: &Sandbox, url: &str, token: &str, outcome: &str) -> (u16, String) {
    let path = url.split_once('?').expect("a query").0;
    let r = sb
        .client
        .post(path)
        .form(&[("token", token), ("outcome", outcome)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_page_completes_authentication_and_the_intent_succeeds_once() {
    let sb = Sandbox::start().await;
    let (pi, url) = waiting(&sb).await;
    let page = sb.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(text.contains("Complete authentication"), "{text}");
    assert!(text.contains("2500 EUR"), "{text}");
    let token = url.split_once("token=").unwrap().1;

    let (status, text) = press(&sb, &url, token, "complete").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Payment authenticated"), "{text}");
    let intent = sb.intent(&pi).await;
    assert_eq!(intent["status"], "succeeded");
    assert!(intent["next_action"].is_null());
    assert_eq!(sb.ledger().await["intents"][0]["succeeded_count"], 1);

    // The page is closed now, and a second press changes nothing.
    let again = sb.client.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("no longer open"));
    let (status, _) = press(&sb, &url, token, "complete").await;
    assert_eq!(status, 410);
    assert_eq!(sb.ledger().await["intents"][0]["succeeded_count"], 1);
}

#[tokio::test]
async fn a_wrong_or_missing_token_opens_nothing() {
    let sb = Sandbox::start().await;
    let (pi, url) = waiting(&sb).await;
    let base = url.split_once('?').unwrap().0;
    for bad in [base.to_string(), format!("{base}?token=guess")] {
        let r = sb.client.get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 410, "{bad}");
    }
    let (status, _) = press(&sb, &url, "guess", "complete").await;
    assert_eq!(status, 410);
    assert_eq!(sb.intent(&pi).await["status"], "requires_action");
}

#[tokio::test]
async fn failing_authentication_leaves_the_intent_unpaid_with_stripes_error() {
    let sb = Sandbox::start().await;
    let (pi, url) = waiting(&sb).await;
    let token = url.split_once("token=").unwrap().1;
    let (status, text) = press(&sb, &url, token, "fail").await;
    assert_eq!(status, 200, "{text}");
    let intent = sb.intent(&pi).await;
    assert_eq!(intent["status"], "requires_payment_method");
    assert_eq!(
        intent["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    assert_eq!(sb.ledger().await["intents"][0]["succeeded_count"], 0);
}
