//! Training mode's hold on the embedded stack (issue 12, item 9): the sandbox's fault plan armed
//! in this process, and the central stopped and started again on its own port, so a desk can
//! rehearse a lost response, a decline, 3-D Secure, a slow gateway and the central being down.
//!
//! Deliberately absent: when to arm what (the desktop shell decides: a gateway rehearsal for the
//! next charge only, the central down until the rehearsal ends), any HTTP admin route (the
//! sandbox's stay as the stack was configured), and anything an external central or a real
//! gateway could be reached by — these controls exist only on a [`crate::Stack`].

use std::net::SocketAddr;
use std::sync::Arc;

use paydesk_central::{Config, IntentLookup, RunningCentral, Store};
use paydesk_sandbox::{FaultControl, FaultRule};
use tokio::sync::Mutex;

use crate::StackError;

/// How many of the terminal's lookups fail after a lost response: more than one charge makes
/// (the flow retrieves the intent a few times before it reports the outcome unknown). The shell
/// disarms what is left as soon as the charge has answered, so "Check status" then finds it.
pub const LOST_RESPONSE_LOOKUPS_FAILING: u32 = 1_000;
/// The slow gateway: the create waits this long…
pub const SLOW_GATEWAY_CREATE_MS: u64 = 2_000;
/// …and the confirm this long: about six seconds in all, slow enough to watch each step of the
/// charge, well under the connector's timeout so the charge still ends with a known answer.
pub const SLOW_GATEWAY_CONFIRM_MS: u64 = 4_000;

/// What a gateway rehearsal makes the sandbox do to the terminal's next charge. Every rule is
/// limited to the terminal's restricted key (`@restricted`): the central's own reads of the
/// gateway (the sweeper, a manager's evidence) are never broken by training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRehearsal {
    /// The confirm runs (the customer is charged) and its answer is lost; the terminal's lookups
    /// fail too, so the charge ends "outcome unknown" until they are disarmed.
    LostResponse,
    /// The confirm is declined as `pm_card_chargeDeclined` would be.
    Decline,
    /// The confirm needs 3-D Secure, as `pm_card_authenticationRequired` does.
    ThreeDSecure,
    /// The create and the confirm are slow, but answer.
    SlowGateway,
}

impl GatewayRehearsal {
    /// The sandbox's fault rules for this rehearsal.
    pub fn faults(self) -> Vec<FaultRule> {
        let specs = match self {
            GatewayRehearsal::LostResponse => vec![
                "confirm@restricted:drop_after_execute:1".to_string(),
                format!("retrieve@restricted:drop_before_execute:{LOST_RESPONSE_LOOKUPS_FAILING}"),
            ],
            GatewayRehearsal::Decline => vec!["confirm@restricted:decline:1".to_string()],
            GatewayRehearsal::ThreeDSecure => {
                vec!["confirm@restricted:authentication_required:1".to_string()]
            }
            GatewayRehearsal::SlowGateway => vec![
                format!("create@restricted:latency={SLOW_GATEWAY_CREATE_MS}:1"),
                format!("confirm@restricted:latency={SLOW_GATEWAY_CONFIRM_MS}:1"),
            ],
        };
        specs
            .iter()
            .map(|spec| spec.parse().expect("the rehearsals' fault specs are valid"))
            .collect()
    }
}

/// What it takes to start the central again on the same port with the same settings.
#[derive(Debug)]
pub(crate) struct CentralSlot {
    /// The running central; `None` while training has it stopped (and after shutdown).
    pub(crate) running: Option<RunningCentral>,
    pub(crate) store: Store,
    pub(crate) config: Config,
    pub(crate) lookup: Option<Arc<dyn IntentLookup>>,
    /// The central's loopback address: a restart listens there again, so every client (the
    /// terminal, the sandbox's webhooks) finds it where it was.
    pub(crate) addr: SocketAddr,
    /// Set at shutdown: the central is never started again after that.
    pub(crate) closed: bool,
}

/// Training's controls over one running stack; cheap to clone, shared with the stack.
#[derive(Debug, Clone)]
pub struct TrainingControls {
    pub(crate) faults: FaultControl,
    pub(crate) central: Arc<Mutex<CentralSlot>>,
}

impl TrainingControls {
    /// Arms `rehearsal`'s faults in the sandbox (after any already armed).
    pub fn arm(&self, rehearsal: GatewayRehearsal) {
        for rule in rehearsal.faults() {
            self.faults.arm(rule);
        }
    }

    /// Disarms every fault still armed in the sandbox.
    pub fn disarm(&self) {
        self.faults.clear();
    }

    /// The faults still armed, each with its remaining count.
    pub fn armed(&self) -> Vec<FaultRule> {
        self.faults.rules()
    }

    /// True while the central serves.
    pub async fn central_running(&self) -> bool {
        self.central.lock().await.running.is_some()
    }

    /// Stops the central (in-flight requests and the current sweep finish): from now on its port
    /// refuses connections, as a central that is down does. Nothing when it is already stopped.
    pub async fn stop_central(&self) {
        let running = self.central.lock().await.running.take();
        if let Some(running) = running {
            running.shutdown().await;
            tracing::info!("training: the embedded central is stopped");
        }
    }

    /// Starts the central again on its own port, over the same database, with the same settings.
    /// Nothing when it runs; an error when the port was taken meanwhile or the stack shut down.
    pub async fn start_central(&self) -> Result<(), StackError> {
        let mut slot = self.central.lock().await;
        if slot.running.is_some() {
            return Ok(());
        }
        if slot.closed {
            return Err(StackError::Central("the stack has shut down".into()));
        }
        let listener = tokio::net::TcpListener::bind(slot.addr)
            .await
            .map_err(|e| StackError::Central(format!("listening on {} again: {e}", slot.addr)))?;
        let running = paydesk_central::start(
            slot.store.clone(),
            slot.config.clone(),
            slot.lookup.clone(),
            listener,
        )
        .map_err(|e| StackError::Central(e.to_string()))?;
        slot.running = Some(running);
        tracing::info!(addr = %slot.addr, "training: the embedded central runs again");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rehearsal_breaks_only_the_terminals_path_and_only_what_it_names() {
        use paydesk_sandbox::{Endpoint, FaultKind, KeyKind};
        let kinds = |r: GatewayRehearsal| {
            r.faults()
                .into_iter()
                .map(|rule| {
                    assert_eq!(rule.keys, Some(KeyKind::Restricted), "{rule}");
                    (rule.endpoint, rule.kind, rule.count)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(GatewayRehearsal::LostResponse),
            [
                (Endpoint::Confirm, FaultKind::DropAfterExecute, 1),
                (
                    Endpoint::Retrieve,
                    FaultKind::DropBeforeExecute,
                    LOST_RESPONSE_LOOKUPS_FAILING
                ),
            ]
        );
        assert_eq!(
            kinds(GatewayRehearsal::Decline),
            [(Endpoint::Confirm, FaultKind::Decline, 1)]
        );
        assert_eq!(
            kinds(GatewayRehearsal::ThreeDSecure),
            [(Endpoint::Confirm, FaultKind::AuthenticationRequired, 1)]
        );
        assert_eq!(
            kinds(GatewayRehearsal::SlowGateway),
            [
                (
                    Endpoint::Create,
                    FaultKind::LatencyMs(SLOW_GATEWAY_CREATE_MS),
                    1
                ),
                (
                    Endpoint::Confirm,
                    FaultKind::LatencyMs(SLOW_GATEWAY_CONFIRM_MS),
                    1
                ),
            ]
        );
    }
}
