//! Training mode in the demo (issue 12, item 9): a switch that lets an operator rehearse what
//! goes wrong — a lost response, a decline, 3-D Secure, a slow gateway, the central down — on the
//! embedded demo's sandbox, and watch the desk recover.
//!
//! The rules, decided here once:
//! - **Only in the embedded demo.** Training arms the embedded sandbox's faults in this process
//!   (`paydesk_stack::TrainingControls`, no admin route opened) and stops the embedded central; a
//!   desk on a real central and gateway has neither, and refuses with the reason.
//! - **Anyone signed in may switch it**, operator or manager: the demo moves no real money, and a
//!   new operator practising alone should not need a manager. Every screen shows it while on.
//! - **A gateway rehearsal is for the next charge only.** It is armed in the sandbox as that
//!   charge starts and disarmed as soon as it has answered (a lost response's failing lookups
//!   too, so "Check status" then finds the payment). Nothing lingers for the central's sweeper or
//!   the next order.
//! - **The central down lasts until the rehearsal ends** (another rehearsal, "End rehearsal", or
//!   training off): the central is stopped at once and started again on its own port.
//!
//! Deliberately absent: wording (the UI's), and any state on disk — an app restarted is out of
//! training, with its central running.

use std::sync::Mutex;

use paydesk_stack::{GatewayRehearsal, TrainingControls};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::desk::Desk;
use crate::error::{log_detail, UiError, UiErrorKind};

/// What an operator can rehearse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Rehearsal {
    /// The next charge is made at the gateway, its answer lost: "outcome unknown", then "Check
    /// status" finds the payment.
    LostResponse,
    /// The next charge is declined by the issuer.
    Decline,
    /// The next charge needs the customer's 3-D Secure authentication.
    ThreeDSecure,
    /// The next charge's gateway calls are slow (about six seconds in all), but answer.
    SlowGateway,
    /// The central is stopped until the rehearsal ends: the desk works offline.
    CentralDown,
}

impl Rehearsal {
    /// The sandbox's part of it, for the rehearsals of the next charge.
    fn gateway(self) -> Option<GatewayRehearsal> {
        match self {
            Rehearsal::LostResponse => Some(GatewayRehearsal::LostResponse),
            Rehearsal::Decline => Some(GatewayRehearsal::Decline),
            Rehearsal::ThreeDSecure => Some(GatewayRehearsal::ThreeDSecure),
            Rehearsal::SlowGateway => Some(GatewayRehearsal::SlowGateway),
            Rehearsal::CentralDown => None,
        }
    }
}

/// Training as the UI shows it (in every status, so the banner is on every screen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct TrainingView {
    /// False when the desk talks to a real central and gateway: training is not offered.
    pub available: bool,
    pub on: bool,
    /// The rehearsal armed for the next charge, or running (the central down).
    pub armed: Option<Rehearsal>,
    /// True while training has the central stopped.
    pub central_down: bool,
}

/// Training's state for one running desk.
#[derive(Debug)]
pub(crate) struct Training {
    /// The embedded stack's controls; `None` against a real central and gateway.
    controls: Option<TrainingControls>,
    /// On or off, and what is armed; in memory only.
    state: Mutex<TrainingState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct TrainingState {
    on: bool,
    armed: Option<Rehearsal>,
}

impl Training {
    pub(crate) fn new(controls: Option<TrainingControls>) -> Training {
        Training {
            controls,
            state: Mutex::new(TrainingState::default()),
        }
    }

    fn state(&self) -> TrainingState {
        self.state.lock().map(|s| *s).unwrap_or_default()
    }

    fn set_state(&self, state: TrainingState) {
        if let Ok(mut slot) = self.state.lock() {
            *slot = state;
        }
    }

    pub(crate) fn view(&self) -> TrainingView {
        let state = self.state();
        TrainingView {
            available: self.controls.is_some(),
            on: state.on,
            armed: state.armed,
            central_down: state.armed == Some(Rehearsal::CentralDown),
        }
    }

    /// Called as a charge starts: arms the armed gateway rehearsal in the sandbox and takes it
    /// (it is for this charge only). Returns whether anything was armed, for [`Training::after_charge`].
    pub(crate) fn before_charge(&self) -> bool {
        let Some(controls) = &self.controls else {
            return false;
        };
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let Some(rehearsal) = state
            .armed
            .and_then(Rehearsal::gateway)
            .filter(|_| state.on)
        else {
            return false;
        };
        state.armed = None;
        controls.arm(rehearsal);
        true
    }

    /// Called when the charge has answered: disarms what is left of its rehearsal.
    pub(crate) fn after_charge(&self, armed: bool) {
        if let (true, Some(controls)) = (armed, &self.controls) {
            controls.disarm();
        }
    }

    /// Ends whatever runs: disarms the sandbox and brings the central back.
    async fn end_rehearsal(&self, controls: &TrainingControls) -> Result<(), UiError> {
        controls.disarm();
        controls.start_central().await.map_err(|e| {
            log_detail("training: starting the central again", &e.to_string());
            UiError::new(
                UiErrorKind::CentralUnreachable,
                "The demo's central could not be started again.",
                "Restart Paydesk: the demo's central starts with it.",
            )
        })
    }
}

impl Desk {
    /// Turns training on or off. Off ends any rehearsal: the sandbox disarmed, the central back.
    pub async fn set_training(&self, on: bool) -> Result<TrainingView, UiError> {
        let (running, _) = self.signed_in()?;
        let training = &running.training;
        let Some(controls) = &training.controls else {
            return Err(unavailable());
        };
        if !on {
            training.end_rehearsal(controls).await?;
        }
        training.set_state(TrainingState { on, armed: None });
        Ok(training.view())
    }

    /// Arms `rehearsal` (replacing the one armed), or ends the rehearsal with `None`. A gateway
    /// rehearsal waits for the next charge; the central down starts now.
    pub async fn rehearse(&self, rehearsal: Option<Rehearsal>) -> Result<TrainingView, UiError> {
        let (running, _) = self.signed_in()?;
        let training = &running.training;
        let Some(controls) = &training.controls else {
            return Err(unavailable());
        };
        if !training.state().on {
            return Err(UiError::bad_input(
                "Training is off.",
                "Turn training on first (the Training button at the top).",
            ));
        }
        training.end_rehearsal(controls).await?;
        if rehearsal == Some(Rehearsal::CentralDown) {
            controls.stop_central().await;
        }
        training.set_state(TrainingState {
            on: true,
            armed: rehearsal,
        });
        Ok(training.view())
    }
}

/// The refusal on a desk that talks to a real central and gateway.
fn unavailable() -> UiError {
    UiError::new(
        UiErrorKind::BadInput,
        "Training is only available in the demo: this desk charges through a real gateway and \
         central, where faults cannot be rehearsed without touching real money.",
        "Practise in the demo: start Paydesk without PAYDESK_CENTRAL_URL.",
    )
}
