// Unknown means check, not charge: while this terminal's journal has an attempt for an order
// whose outcome is not known, that order offers exactly two actions — "Check status" and "Retry
// the same attempt" — and no Charge, until the attempt is settled.
//
// Pure and unit-tested. Both actions run the engine's recovery over this journal's open
// attempts (the only entry the engine offers the shell): for an attempt whose confirm went out,
// recovery's first step is a live lookup of its payment at the gateway; where the confirm may
// not have arrived it re-sends it with the attempt's own idempotency keys. Neither ever creates a
// new attempt. What differs is what the operator asked for and how the answer is worded.
import type { AttemptState, AttemptView } from "./bindings";

/** States in which money may or may not have moved: the outcome is not known yet. */
const UNKNOWN_STATES: ReadonlySet<AttemptState> = new Set<AttemptState>(["created", "registered", "confirm_sent", "unknown"]);

export type UnknownAction = "check_status" | "retry_same";

/** The only actions an order with an unknown attempt offers, in this order. */
export const UNKNOWN_ACTIONS: readonly { action: UnknownAction; label: string }[] = [
  { action: "check_status", label: "Check status" },
  { action: "retry_same", label: "Retry the same attempt" },
];

export function isOutcomeUnknown(state: AttemptState): boolean {
  return UNKNOWN_STATES.has(state);
}

/** This journal's attempt with an unknown outcome for each order (the newest, if several). */
export function unknownByOrder(attempts: AttemptView[]): Map<string, AttemptView> {
  const byOrder = new Map<string, AttemptView>();
  for (const attempt of attempts) {
    if (!isOutcomeUnknown(attempt.state)) continue;
    const seen = byOrder.get(attempt.order);
    if (!seen || seen.created_at < attempt.created_at) byOrder.set(attempt.order, attempt);
  }
  return byOrder;
}

/** What to tell the operator after a check or a retry, from where the attempt stands now. */
export function afterCheck(action: UnknownAction, state: AttemptState | null): { settled: boolean; text: string } {
  const did = action === "check_status" ? "Checked at the gateway" : "Retried the same attempt (same keys)";
  switch (state) {
    case null:
      return { settled: false, text: `${did}, but the attempt is no longer in this journal. Reload the queue.` };
    case "succeeded":
      return { settled: true, text: `${did}: the payment succeeded. The order is paid — do not charge again.` };
    case "declined":
      return { settled: true, text: `${did}: the payment was declined. No money moved.` };
    case "requires_action":
      return { settled: true, text: `${did}: the customer must authenticate (3-D Secure). No money moved.` };
    case "canceled":
      return { settled: true, text: `${did}: the payment was canceled. No money moved.` };
    case "needs_review":
      return { settled: true, text: `${did}: the gateway could not settle it; a manager must review it. Do not charge again.` };
    default:
      return {
        settled: false,
        text: `${did}: the outcome is still unknown. Do not charge again; check again in a minute (Paydesk also checks every 30 s).`,
      };
  }
}
