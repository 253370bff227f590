//! Who is signed in, against the real central and sandbox (the embedded stack): sign-in opens a
//! session at the central and a charge is refused without one or for someone else; offline
//! sign-in works only for an operator who signed in online here, with a lockout that survives a
//! restart; a manager never signs in offline; the offline allowance comes signed from the central
//! to a signed-in manager only; and no PIN hash is kept on the terminal.

use std::sync::Arc;

use paydesk_core::{Money, OperatorId, OrderId, Pin};
use paydesk_engine::{ChargeRequest, OfflinePolicy, Progress};
use paydesk_journal::AttemptFilter;
use paydesk_protocol::Role;
use paydesk_stack::{
    start, Stack, StackConfig, DEMO_MANAGER, DEMO_MANAGER_PIN, DEMO_OPERATOR, DEMO_OPERATOR_PIN,
};
use paydesk_terminal::{
    ChargeError, GrantError, MemorySecretStore, SignInError, Terminal, ALLOWANCE_KEY_FILE,
    OPERATORS_CACHE_FILE, VERIFIERS_FILE,
};

fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

fn id(s: &str) -> OperatorId {
    OperatorId::new(s).unwrap()
}

fn quiet(_: Progress) {}

fn request(order: &str, operator: &str, amount: &str) -> ChargeRequest {
    ChargeRequest {
        order: OrderId::new(order).unwrap(),
        operator: id(operator),
        expected_amount: Money::parse(amount).unwrap(),
    }
}

async fn stack(dir: &tempfile::TempDir) -> Stack {
    start(StackConfig::new(
        dir.path(),
        Arc::new(MemorySecretStore::new()),
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_needs_the_signed_in_operator_and_a_session_at_the_central() {
    let dir = tempfile::tempdir().unwrap();
    // An operator cache left by an older version is removed when the terminal opens.
    std::fs::write(dir.path().join(OPERATORS_CACHE_FILE), "{}").unwrap();
    let stack = stack(&dir).await;
    let terminal = stack
        .terminal(&dir.path().join("journal.sqlite"))
        .await
        .unwrap();
    assert!(!dir.path().join(OPERATORS_CACHE_FILE).exists());

    // Nobody signed in: refused before anything is written.
    let none = terminal
        .charge(&request("demo-1001", DEMO_OPERATOR, "129.00 EUR"), &quiet)
        .await;
    assert!(matches!(none, Err(ChargeError::NotSignedIn)), "{none:?}");

    let refused = terminal.sign_in(&id(DEMO_OPERATOR), pin("654321")).await;
    assert!(matches!(refused, Err(SignInError::Refused)), "{refused:?}");
    let unknown = terminal.sign_in(&id("nobody"), pin("123456")).await;
    assert!(matches!(unknown, Err(SignInError::Refused)), "{unknown:?}");
    assert!(terminal.signed_in().is_none());

    let signed = terminal
        .sign_in(&id(DEMO_OPERATOR), pin(DEMO_OPERATOR_PIN))
        .await
        .unwrap();
    assert_eq!((signed.role, signed.offline), (Role::Operator, false));
    assert!(signed.session_id.is_some());
    assert_eq!(terminal.signed_in(), Some(signed));
    // The central's allowance key is pinned at the first online sign-in.
    assert!(dir.path().join(ALLOWANCE_KEY_FILE).is_file());

    // Someone else's name on the charge: refused, nothing written.
    let other = terminal
        .charge(&request("demo-1001", DEMO_MANAGER, "129.00 EUR"), &quiet)
        .await;
    assert!(
        matches!(other, Err(ChargeError::OtherOperator { .. })),
        "{other:?}"
    );
    assert!(terminal
        .attempts(AttemptFilter::default())
        .await
        .unwrap()
        .is_empty());

    // The signed-in operator charges; the claim carried the session.
    let report = terminal
        .charge(&request("demo-1001", DEMO_OPERATOR, "129.00 EUR"), &quiet)
        .await
        .unwrap();
    assert_eq!(report.attempt.operator.as_str(), DEMO_OPERATOR);
    assert_eq!(report.state(), paydesk_core::AttemptState::Succeeded);

    // Signed out: no more charges.
    terminal.sign_out().await;
    assert!(terminal.signed_in().is_none());
    let after = terminal
        .charge(&request("demo-1002", DEMO_OPERATOR, "45.50 EUR"), &quiet)
        .await;
    assert!(matches!(after, Err(ChargeError::NotSignedIn)), "{after:?}");
    drop(terminal);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sign_in_is_for_recent_operators_only_and_locks_after_five_wrong_pins() {
    let dir = tempfile::tempdir().unwrap();
    let stack = stack(&dir).await;
    let journal = dir.path().join("journal.sqlite");
    let connection = stack.connection(&journal);
    let terminal = Terminal::open(connection.clone()).await.unwrap();

    // Online sign-ins leave a verifier for the operator, none for the manager.
    for (who, typed) in [
        (DEMO_OPERATOR, DEMO_OPERATOR_PIN),
        (DEMO_MANAGER, DEMO_MANAGER_PIN),
    ] {
        terminal.sign_in(&id(who), pin(typed)).await.unwrap();
        terminal.sign_out().await;
    }
    let verifiers = std::fs::read_to_string(dir.path().join(VERIFIERS_FILE)).unwrap();
    assert!(verifiers.contains(DEMO_OPERATOR), "{verifiers}");
    assert!(
        !verifiers.contains(DEMO_MANAGER),
        "never a manager's verifier: {verifiers}"
    );
    assert!(!verifiers.contains(DEMO_OPERATOR_PIN), "no PIN in the file");
    assert!(verifiers.contains("m=65536,t=3"), "{verifiers}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(VERIFIERS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    stack.shutdown().await;
    // The operator signs in offline with the right PIN.
    let offline = terminal
        .sign_in(&id(DEMO_OPERATOR), pin(DEMO_OPERATOR_PIN))
        .await
        .unwrap();
    assert_eq!((offline.role, offline.offline), (Role::Operator, true));
    assert!(offline.session_id.is_none());
    terminal.sign_out().await;

    // The manager does not: managers sign in online only.
    let manager = terminal
        .sign_in(&id(DEMO_MANAGER), pin(DEMO_MANAGER_PIN))
        .await;
    assert!(
        matches!(manager, Err(SignInError::UnreachableNoCache { .. })),
        "{manager:?}"
    );
    assert!(manager.unwrap_err().to_string().contains("not managers"));

    // Five wrong PINs, then the right one is refused: locked until a time.
    for _ in 0..5 {
        let wrong = terminal.sign_in(&id(DEMO_OPERATOR), pin("000000")).await;
        assert!(matches!(wrong, Err(SignInError::Refused)), "{wrong:?}");
    }
    let locked = terminal
        .sign_in(&id(DEMO_OPERATOR), pin(DEMO_OPERATOR_PIN))
        .await;
    let Err(SignInError::Locked(message)) = locked else {
        panic!("the sixth try is locked out: {locked:?}");
    };
    assert!(message.contains("locked until"), "{message}");

    // The count survives a restart of the terminal.
    drop(terminal);
    let reopened = Terminal::open(connection).await.unwrap();
    let still = reopened
        .sign_in(&id(DEMO_OPERATOR), pin(DEMO_OPERATOR_PIN))
        .await;
    assert!(
        matches!(&still, Err(SignInError::Locked(m)) if m.contains("locked until")),
        "{still:?}"
    );
    assert!(reopened.signed_in().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_signed_in_manager_gets_a_signed_offline_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let stack = stack(&dir).await;
    let terminal = stack
        .terminal(&dir.path().join("journal.sqlite"))
        .await
        .unwrap();
    let eur = |s: &str| Money::parse(s).unwrap();
    let grant = |p: &'static str| {
        let terminal = &terminal;
        async move {
            terminal
                .grant_offline(
                    pin(p),
                    eur("50.00 EUR"),
                    eur("300.00 EUR"),
                    3_600_000,
                    3_600_000,
                )
                .await
        }
    };

    // Nobody signed in, or an operator: refused.
    assert!(matches!(
        grant(DEMO_MANAGER_PIN).await,
        Err(GrantError::NotSignedIn)
    ));
    terminal
        .sign_in(&id(DEMO_OPERATOR), pin(DEMO_OPERATOR_PIN))
        .await
        .unwrap();
    assert!(matches!(
        grant(DEMO_OPERATOR_PIN).await,
        Err(GrantError::NotManager(_))
    ));
    assert_eq!(terminal.offline_policy(), OfflinePolicy::Block);

    // The manager, with a wrong PIN again: refused. With the right one: a signed grant.
    terminal
        .sign_in(&id(DEMO_MANAGER), pin(DEMO_MANAGER_PIN))
        .await
        .unwrap();
    let wrong = grant("00000000").await;
    assert!(
        matches!(wrong, Err(GrantError::SignIn(SignInError::Refused))),
        "{wrong:?}"
    );
    let allowance = grant(DEMO_MANAGER_PIN).await.unwrap();
    assert_eq!(allowance.approved_by.as_str(), DEMO_MANAGER);
    assert_eq!(terminal.offline_policy(), OfflinePolicy::Allow(allowance));

    // The saved grant edited by hand (a higher cap): blocked.
    let path = dir.path().join(paydesk_terminal::OFFLINE_POLICY_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"minor\":5000"), "{text}");
    std::fs::write(&path, text.replace("\"minor\":5000", "\"minor\":500000")).unwrap();
    assert_eq!(terminal.offline_policy(), OfflinePolicy::Block);
    drop(terminal);
    stack.shutdown().await;
}
