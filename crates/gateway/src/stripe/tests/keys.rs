//! Keys by need (review H4, M1): a restricted key's 403 is a clear, non-retryable error, and a
//! live key is never configured towards plain HTTP or a host other than Stripe's.

use super::*;

/// A restricted test key; its secret part must not show up anywhere either.
const RESTRICTED_KEY: &str = "rk_test_51RestrictedSecretValueMustNotLeak";

fn restricted_gateway(base_url: &str) -> StripeGateway {
    StripeGateway::new(ApiKey::new(RESTRICTED_KEY).unwrap(), fast_config(base_url)).unwrap()
}

#[tokio::test]
async fn a_restricted_keys_403_is_a_clear_error_and_is_not_retried() {
    // Stripe's answer to a restricted key without the permission (as the sandbox gives it).
    let server = Scripted::start(vec![
        error(
            403,
            serde_json::json!({
                "type": "invalid_request_error",
                "message": "The provided key 'rk_test_51R***********************Leak' does not \
                    have the required permissions for this endpoint on account 'acct_1'. Having \
                    the 'rak_refund_write' permission would allow this request to continue."
            }),
        ),
        error(
            403,
            serde_json::json!({"type": "invalid_request_error", "message": "x"}),
        ),
    ])
    .await;
    let restricted = restricted_gateway(&server.base_url);
    let err = restricted.refund(&refund_request(None)).await.unwrap_err();
    match &err {
        GatewayError::Permission {
            restricted,
            message,
        } => {
            assert!(*restricted);
            assert!(message.contains("rak_refund_write"), "{message}");
        }
        other => panic!("expected a permission error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("restricted API key"), "{text}");
    assert!(text.contains("not retryable"), "{text}");
    assert!(
        text.contains("central"),
        "says where refunds belong: {text}"
    );
    assert!(!text.contains("RestrictedSecretValue"), "{text}");
    assert_eq!(server.requests().len(), 1, "a 403 is never re-sent");

    // A full key that meets a 403 is not told about restricted keys.
    let full = gateway(&server.base_url)
        .retrieve_intent(&pi())
        .await
        .unwrap_err();
    assert!(
        matches!(
            full,
            GatewayError::Permission {
                restricted: false,
                ..
            }
        ),
        "{full:?}"
    );
}

#[test]
fn a_live_key_is_never_configured_towards_plain_http_or_another_host() {
    let config = |url: &str, allow: bool| StripeConfig {
        allow_custom_host: allow,
        ..fast_config(url)
    };
    for key in ["sk_live_x", "rk_live_x"] {
        let key = ApiKey::new(key).unwrap();
        // Plain HTTP, even to this machine and even with the custom host allowed.
        for url in ["http://127.0.0.1:1", "http://api.stripe.com"] {
            let err = StripeGateway::new(key.clone(), config(url, true)).unwrap_err();
            assert!(matches!(err, GatewayError::Config { .. }), "{url}: {err:?}");
            assert!(err.to_string().contains("plain HTTP"), "{err}");
        }
        let elsewhere =
            StripeGateway::new(key.clone(), config("https://stripe.example", false)).unwrap_err();
        assert!(
            elsewhere
                .to_string()
                .contains(crate::url_policy::ALLOW_CUSTOM_GATEWAY_ENV),
            "{elsewhere}"
        );
        assert!(StripeGateway::new(key.clone(), config("https://stripe.example", true)).is_ok());
        assert!(StripeGateway::new(key, config("https://api.stripe.com", false)).is_ok());
    }
    // Test keys may use the sandbox on this machine, but no key goes over plain HTTP elsewhere.
    let test = ApiKey::new(RESTRICTED_KEY).unwrap();
    assert!(StripeGateway::new(test.clone(), config("http://127.0.0.1:1", false)).is_ok());
    let lan = StripeGateway::new(test, config("http://10.0.0.5:12111", true)).unwrap_err();
    assert!(lan.to_string().contains("plain HTTP"), "{lan}");
    assert!(!lan.to_string().contains("RestrictedSecretValue"));
}
