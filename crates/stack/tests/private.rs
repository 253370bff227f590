//! The embedded stack's security settings (issue 10): keys by need (the terminal's key is
//! restricted, the central has its own full key), a data directory private from the first byte,
//! `stack.json` believed only while its stack runs, and the sandbox's admin routes off.

use std::sync::Arc;

use paydesk_core::{GatewayIntentId, IdempotencyKey};
use paydesk_gateway::{ApiKey, Gateway, GatewayError, RefundRequest, StripeConfig, StripeGateway};
use paydesk_stack::{start, StackConfig, StackError, DEMO_GATEWAY_KEY, JOURNAL_FILE};
use paydesk_terminal::{
    read_stack_file, stack_alive, MemorySecretStore, Secret, SecretStore, TerminalSettings,
    GATEWAY_API_KEY, STACK_FILE,
};

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_is_private_keyed_by_need_and_believed_only_while_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let secrets = Arc::new(MemorySecretStore::new());
    // A store from an older version holds the full demo key: it is replaced by the restricted one.
    secrets
        .set(
            GATEWAY_API_KEY,
            &Secret::new("sk_test_paydesk_demo").unwrap(),
        )
        .unwrap();
    let stack = start(StackConfig::new(&dir, secrets.clone()))
        .await
        .unwrap();
    let terminal = stack.terminal(&dir.join(JOURNAL_FILE)).await.unwrap();

    // Keys by need: the terminal holds a restricted key, which cannot refund.
    let key = secrets.get(GATEWAY_API_KEY).unwrap().unwrap();
    assert_eq!(key.expose(), DEMO_GATEWAY_KEY);
    assert!(key.expose().starts_with("rk_test_"));
    let gateway = StripeGateway::new(
        ApiKey::new(key.expose()).unwrap(),
        StripeConfig::with_base_url(stack.gateway_url.clone()),
    )
    .unwrap();
    let intent = GatewayIntentId::new("pi_anything").unwrap();
    let refused = gateway
        .refund(&RefundRequest {
            intent: intent.clone(),
            amount: None,
            reason: None,
            metadata: Default::default(),
            key: IdempotencyKey::for_refund(&intent, paydesk_core::AttemptNumber::new(1).unwrap()),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            GatewayError::Permission {
                restricted: true,
                ..
            }
        ),
        "{refused:?}"
    );

    // The sandbox's admin routes are off in the embedded stack.
    let admin = reqwest::get(format!("{}/admin/ledger", stack.gateway_url))
        .await
        .unwrap();
    assert_eq!(admin.status(), 404);

    // Private from the first byte.
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir), 0o700);
        for file in [
            "central.sqlite",
            JOURNAL_FILE,
            STACK_FILE,
            "terminal.json",
            "stack.lock",
            "central-allowance.key",
        ] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        for wal in [
            "central.sqlite-wal",
            "central.sqlite-shm",
            "journal.sqlite-wal",
        ] {
            if dir.join(wal).exists() {
                assert_eq!(mode(&dir.join(wal)), 0o600, "{wal}");
            }
        }
    }

    // A second stack over the same directory is refused while this one runs.
    let second = start(StackConfig::new(&dir, secrets.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&second, StackError::DataDir { detail, .. } if detail.contains("another embedded stack")),
        "{second}"
    );

    // A live key never goes to the stack's sandbox.
    let mut settings = TerminalSettings::new("paydesk-test");
    settings.secrets = secrets.clone();
    settings.data_dir = Some(dir.clone());
    settings.gateway_key_override = Some("rk_live_not_for_the_sandbox".into());
    let err = settings.connect(None).await.unwrap_err().to_string();
    assert!(err.contains("live key"), "{err}");
    assert!(!err.contains("not_for_the_sandbox"));

    assert!(stack_alive(&dir));
    assert!(read_stack_file(&dir).is_some());
    drop(terminal);
    stack.shutdown().await;
    assert!(!stack_alive(&dir));

    // A stack.json left behind (a crash) is not believed: nobody holds the lock.
    let stale = r#"{"central_url":"http://127.0.0.1:9","gateway_url":"http://127.0.0.1:9","terminal_id":"desk-1"}"#;
    std::fs::write(dir.join(STACK_FILE), stale).unwrap();
    assert!(read_stack_file(&dir).is_none());
}
