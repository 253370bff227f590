// Training mode in the demo (issue 12, item 9): the words of its banner, its rehearsals and the
// header's switch; pure, so the wording is unit-tested. The shell decides what each rehearsal arms
// (src-tauri/src/training.rs): a gateway rehearsal for the next charge only, the central down until
// the rehearsal ends.
import type { Rehearsal, TrainingView } from "./bindings";

/** The banner's headline, on every screen while training is on. */
export const TRAINING_BANNER = "Training — the gateway's faults are armed, no real money";

export interface RehearsalChoice {
  value: Rehearsal;
  label: string;
  /** What happens and what to watch for, once it is armed. */
  armed: string;
}

/** The rehearsals in the picker, in the order an operator meets them. */
export const REHEARSALS: RehearsalChoice[] = [
  {
    value: "lost_response",
    label: "A lost response",
    armed:
      "Armed for the next charge: the gateway charges the card and its answer is lost, so the charge ends " +
      "“Outcome unknown”. Then press “Check status”: the payment is found, and nothing is charged twice.",
  },
  {
    value: "decline",
    label: "A decline",
    armed:
      "Armed for the next charge: the card's bank declines it. Read what the desk advises; nothing is charged.",
  },
  {
    value: "three_d_secure",
    label: "3-D Secure",
    armed:
      "Armed for the next charge: the bank asks the customer to authenticate (3-D Secure). See what the desk " +
      "offers for a customer who must act; nothing is charged until they do.",
  },
  {
    value: "slow_gateway",
    label: "A slow gateway",
    armed:
      "Armed for the next charge: the gateway takes about 6 seconds to answer. Watch the steps; do not close " +
      "the charge or charge again.",
  },
  {
    value: "central_down",
    label: "The central down",
    armed:
      "The central is stopped now: the desk works offline. Charging is blocked unless a manager granted an " +
      "offline allowance. End the rehearsal to bring the central back.",
  },
];

/** The picker's line under the banner: what is armed, or what to do next. */
export function armedLine(view: TrainingView): string {
  const choice = REHEARSALS.find((r) => r.value === view.armed);
  if (choice) return choice.armed;
  return "Nothing armed. Pick a rehearsal and arm it; a gateway rehearsal applies to the next card charge only.";
}

/** The header's switch: its text and what a screen reader hears. */
export function trainingToggle(view: TrainingView | null): { text: string; label: string; title: string } {
  if (!view?.available) {
    return {
      text: "Training",
      label: "Training mode (only in the demo)",
      title: "Training is only available in the demo: this desk talks to a real gateway and central.",
    };
  }
  return view.on
    ? { text: "Training on", label: "Training mode is on: turn it off", title: "Turn training off" }
    : { text: "Training", label: "Turn training mode on", title: "Rehearse faults on the demo's gateway" };
}
