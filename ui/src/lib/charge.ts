// What the charge dialog shows: the steps of the charge protocol as they happen, and the final
// state in words an operator acts on.
//
// Pure, so every rule is unit-tested. The rules that matter most: an outcome that is not known is
// "Pending — do not charge again", never "failed"; and an error after the attempt was journaled
// is not "not charged" either, because recovery may still find that the money moved.
import type { CallError } from "./api";
import type { AttemptState, ChargeView, Progress } from "./bindings";
import { formatMoney } from "./money";
import { formatTimestamp } from "./time";

/** The protocol's visible steps, in order. */
export const STEPS = [
  { key: "claimed", label: "Order claimed" },
  { key: "journaled", label: "Attempt journaled" },
  { key: "created", label: "Payment intent created" },
  { key: "registered", label: "Registered at the central" },
  { key: "confirm_sent", label: "Confirm sent" },
  { key: "outcome", label: "Outcome" },
] as const;

export type StepStatus = "done" | "current" | "todo";

export interface StepLine {
  key: string;
  label: string;
  status: StepStatus;
}

/**
 * How far an attempt state is along `STEPS` (index of the last step it completed). This is the
 * core's `AttemptState::rank` + 1, capped at the outcome step: the dialog has one step before the
 * journal (the claim) and one line for every state from `unknown` on. A `Record` over the generated
 * union, so a state added in Rust fails `npm run check` until it has its place here.
 */
const STEP_OF_STATE: Record<AttemptState, number> = {
  intent: 1,
  created: 2,
  registered: 3,
  confirm_sent: 4,
  // Unknown, needs_review and every final state: the outcome step was reached.
  unknown: 5,
  needs_review: 5,
  succeeded: 5,
  declined: 5,
  requires_action: 5,
  canceled: 5,
};

/** How far one progress event got: the claim (or the manager's offline allowance in its place) is 0. */
function stepOf(event: Progress): number {
  switch (event.kind) {
    case "claimed":
    case "offline":
      return 0;
    case "step":
      return STEP_OF_STATE[event.state];
    case "waiting":
      return -1;
  }
}

/** The furthest step the events reached; -1 before the claim. */
export function reachedStep(events: Progress[]): number {
  return events.reduce((reached, event) => Math.max(reached, stepOf(event)), -1);
}

/** The manager's offline allowance this charge runs under, if the central was unreachable. */
function offlineApproval(events: Progress[]): string | null {
  for (const event of events) if (event.kind === "offline") return event.approved_by;
  return null;
}

/**
 * The words of a step. Offline there is no claim and no registration at the central: the manager's
 * allowance stands in for both, and the dialog says so instead of claiming what did not happen.
 */
function stepLabel(key: (typeof STEPS)[number]["key"], label: string, approvedBy: string | null): string {
  if (approvedBy === null) return label;
  if (key === "claimed") return `Offline: allowed by ${approvedBy} (the central is unreachable)`;
  if (key === "registered") return "Allowed offline (registers at the central when it is back)";
  return label;
}

/** One line per step: done up to the furthest reached, the next one current while `running`. */
export function stepLines(events: Progress[], running: boolean): StepLine[] {
  const reached = reachedStep(events);
  const approvedBy = offlineApproval(events);
  return STEPS.map((step, i) => ({
    key: step.key,
    label: stepLabel(step.key, step.label, approvedBy),
    status: i <= reached ? "done" : running && i === reached + 1 ? "current" : "todo",
  }));
}

/** What an offline charge means for the operator, when the engine went ahead offline. */
export function offlineNote(events: Progress[]): string | null {
  const approvedBy = offlineApproval(events);
  if (approvedBy === null) return null;
  return `Charging offline under ${approvedBy}'s allowance. The result is kept in this terminal's journal and reaches the central when it is back.`;
}

/** The last "waiting" note, if the engine is waiting out an ambiguous answer right now. */
export function waitingNote(events: Progress[]): string | null {
  const last = events[events.length - 1];
  if (last?.kind !== "waiting") return null;
  const seconds = Math.max(1, Math.round(last.delay_ms / 1000));
  return `The gateway's answer was not clear; asking again in ${seconds} s (at most a few tries).`;
}

export type OutcomeKind =
  | "paid"
  | "declined"
  | "needs_action"
  | "pending"
  | "needs_review"
  | "canceled"
  | "held"
  | "similar_payment"
  | "not_charged";

export interface Outcome {
  kind: OutcomeKind;
  tone: "ok" | "bad" | "attention" | "neutral";
  /** The headline: "Paid", "Declined", "Pending — outcome unknown", … */
  title: string;
  /** What it means and what to do next. */
  detail: string;
}

/** The final state of a charge that returned. */
export function outcomeOf(view: ChargeView): Outcome {
  const a = view.attempt;
  const amount = formatMoney(a.amount.minor, a.amount.currency, a.amount_exponent);
  switch (a.state) {
    case "succeeded":
      return { kind: "paid", tone: "ok", title: "Paid", detail: `${amount} was charged for order ${a.order}.` };
    case "declined":
      return {
        kind: "declined",
        tone: "bad",
        title: `Declined: ${a.reason ?? "no reason given"}`,
        detail: "No money moved. Tell the customer the card was declined, or ask them for another payment method.",
      };
    case "requires_action":
      return {
        kind: "needs_action",
        tone: "attention",
        title: "Needs customer action",
        detail: "The card needs the customer to authenticate (3-D Secure). No money moved. Contact the customer.",
      };
    case "canceled":
      return {
        kind: "canceled",
        tone: "neutral",
        title: "Canceled — no money moved",
        detail: a.reason ?? "The attempt ended before anything was charged.",
      };
    case "needs_review":
      return {
        kind: "needs_review",
        tone: "attention",
        title: "Needs a manager's review — do not charge again",
        detail: a.reason ?? "Automatic recovery could not settle this attempt; a manager must check the gateway.",
      };
    default:
      return pendingOutcome(view.pending);
  }
}

function pendingOutcome(why: string | null): Outcome {
  return {
    kind: "pending",
    tone: "attention",
    title: "Pending — outcome unknown. DO NOT charge again.",
    detail: `${why ? `${why}. ` : ""}Recovery will settle it from the gateway's records; the journal shows when it does.`,
  };
}

/** Error kinds that the shell only returns before anything was sent to the gateway. */
const BEFORE_ANYTHING_SENT: ReadonlySet<CallError["kind"]> = new Set<CallError["kind"]>([
  "held_by",
  "not_chargeable",
  "amount_changed",
  "already_charged",
  "central_unreachable",
  "bad_input",
  "not_signed_in",
  "journal_damaged",
  "offline_blocked",
  "starting",
  "similar_payment",
  "reattempt_refused",
]);

/**
 * The final state of a charge that failed with `error`. `journaled` is whether a progress event
 * showed the attempt in the journal: from then on recovery owns the attempt, and an error means
 * "not finished", not "not charged".
 */
export function outcomeOfError(error: CallError, journaled: boolean, offsetMinutes: number): Outcome {
  if (error.kind === "held_by") {
    const h = error.held_by;
    return {
      kind: "held",
      tone: "neutral",
      title: h
        ? `Held by ${h.operator} on terminal ${h.terminal} since ${formatTimestamp(h.since, offsetMinutes)}`
        : "Held by another terminal",
      detail: `Nothing was charged here. ${error.next_step}`,
    };
  }
  if (error.kind === "similar_payment") {
    // The central refused the claim before anything was sent; its message names the earlier
    // order (who, when, the gateway id). Going on is the operator's explicit choice.
    return {
      kind: "similar_payment",
      tone: "attention",
      title: "Possible duplicate — not charged",
      detail: `${error.message} ${error.next_step}`,
    };
  }
  if (journaled && !BEFORE_ANYTHING_SENT.has(error.kind)) {
    return pendingOutcome(error.message.replace(/\.$/, ""));
  }
  return { kind: "not_charged", tone: "bad", title: `Not charged: ${error.message}`, detail: error.next_step };
}

/** True once any progress event shows the attempt in the journal. */
export function wasJournaled(events: Progress[]): boolean {
  return reachedStep(events) >= 1;
}

/**
 * Whether the final state offers "Charge anyway": only the similar-payment warning, which the
 * operator answers by re-sending the charge with `confirm_similar`. Every other refusal (held,
 * paid, an unknown outcome, the card's reattempt limit) offers no way around it.
 */
export function offersChargeAnyway(outcome: Outcome): boolean {
  return outcome.kind === "similar_payment";
}
