//! The demo's parked outbox message (issue 11, "Done when"): a fresh demo given the desktop's
//! journal leaves in it one result that this till made under the terminal id it had before its
//! token was lost. When the terminal relays it under its present id, the real central refuses it
//! (the claim was never granted to that id) and the relay parks exactly that one message, with
//! the central's reason. The order itself is paid at the central, by the gateway's webhook. A
//! restart adds nothing, and a stack not given a journal has no such order.

use std::sync::Arc;

use paydesk_core::{AttemptState, OrderId};
use paydesk_engine::RelayOutcome;
use paydesk_journal::OutboxListing;
use paydesk_protocol::OrderStatus;
use paydesk_stack::{start, StackConfig, DEMO_OPERATOR, PARKED_ORDER};
use paydesk_terminal::MemorySecretStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_parks_one_result_the_central_refuses_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let secrets = Arc::new(MemorySecretStore::new());
    let mut config = StackConfig::new(dir.path(), secrets).with_demo_exceptions();
    config.journal = Some(journal.clone());
    let stack = start(config.clone()).await.unwrap();
    let order = OrderId::new(PARKED_ORDER).unwrap();

    // The central has the payment, from the gateway's webhook, and no result of it.
    let detail = stack.central_store().order_detail(&order).await.unwrap();
    assert_eq!(detail.order.status, OrderStatus::Paid, "{detail:?}");
    assert_eq!(detail.intents.len(), 1, "{detail:?}");
    assert!(detail.results.is_empty(), "{:?}", detail.results);

    let terminal = stack.terminal(&journal).await.unwrap();
    // Before any relay: one result waiting, made by the till under another terminal id.
    let waiting = terminal
        .engine()
        .outbox_list(OutboxListing::Undelivered, 10)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].payload["order"], PARKED_ORDER, "{waiting:?}");
    let (attempt, _) = terminal
        .attempt_timeline(waiting[0].attempt_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.state, AttemptState::Succeeded);
    assert_eq!(attempt.operator.as_str(), DEMO_OPERATOR);
    assert_ne!(attempt.terminal, stack.terminal, "made under the old id");
    assert_eq!(
        attempt.intent_id.as_ref().map(|i| i.as_str()),
        detail.order.paid_intent_id.as_ref().map(|i| i.as_str()),
        "the journal's intent is the one that paid the order"
    );

    // The relay under the present id: refused by the central, parked, never due again.
    assert_eq!(
        terminal.engine().relay_once().await.unwrap(),
        RelayOutcome::Sent {
            delivered: 0,
            parked: 1
        }
    );
    assert_eq!(
        terminal.engine().relay_once().await.unwrap(),
        RelayOutcome::Empty
    );
    let parked = terminal
        .engine()
        .outbox_list(OutboxListing::Parked, 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    let reason = parked[0].parked_reason.clone().unwrap_or_default();
    let expected = format!(
        "claim token 1 of order {PARKED_ORDER} was never granted to terminal {}",
        stack.terminal
    );
    assert!(reason.contains("rejected by the central"), "{reason}");
    assert!(reason.contains(&expected), "{reason}");
    // The manager's inbox on this terminal lists it.
    let inbox = terminal.local_inbox().await.unwrap();
    assert_eq!(
        inbox
            .iter()
            .filter(|i| i.kind == "parked_message")
            .map(|i| i.order_id.as_deref())
            .collect::<Vec<_>>(),
        vec![Some(PARKED_ORDER)],
        "{inbox:?}"
    );
    // Nothing changed at the central: still paid by the webhook, no result stored.
    let after = stack.central_store().order_detail(&order).await.unwrap();
    assert_eq!(after.order.status, OrderStatus::Paid);
    assert!(after.results.is_empty(), "{:?}", after.results);

    // A restart over the same directory and journal adds nothing.
    drop(terminal);
    stack.shutdown().await;
    let stack = start(config).await.unwrap();
    let terminal = stack.terminal(&journal).await.unwrap();
    let all = terminal
        .engine()
        .outbox_list(OutboxListing::All, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        stack
            .central_store()
            .order_detail(&order)
            .await
            .unwrap()
            .intents
            .len(),
        1
    );
    drop(terminal);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_given_no_journal_has_no_such_order() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let stack = start(StackConfig::new(dir.path(), secrets).with_demo_exceptions())
        .await
        .unwrap();
    let unknown = stack
        .central_store()
        .order_detail(&OrderId::new(PARKED_ORDER).unwrap())
        .await;
    assert!(unknown.is_err(), "{unknown:?}");
    stack.shutdown().await;
}
