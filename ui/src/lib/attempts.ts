// Turns attempts from the journal into table rows: short ids, formatted amounts, readable states.
//
// Pure, so every rule about what an operator sees is unit-tested. The one rule that matters most:
// an outcome that is not known is never shown as a failure (the brief's "a 'failed' that was
// really 'unknown'").
import type { AttemptState, AttemptView } from "./bindings";
import { formatMoney } from "./money";
import { formatTimestamp, formatUtc } from "./time";

/** How a state badge looks: good news, bad news, needs a person, in progress, or nothing moved. */
export type Tone = "ok" | "bad" | "attention" | "progress" | "neutral";

export interface StateBadge {
  label: string;
  tone: Tone;
  /** A sentence for the tooltip: what this state means for the money. */
  hint: string;
}

/**
 * The core's attempt states and how people see them. A `Record` over the generated union: a state
 * added in Rust fails `npm run check` until it has its words here, so none is ever guessed.
 */
const STATE_BADGES: Record<AttemptState, StateBadge> = {
  intent: { label: "Starting", tone: "progress", hint: "Recorded; no money has moved." },
  created: { label: "Intent created", tone: "progress", hint: "The gateway holds an intent; no money has moved." },
  registered: { label: "Ready to charge", tone: "progress", hint: "Registered at the central; not confirmed yet." },
  confirm_sent: { label: "Charging", tone: "progress", hint: "The charge was sent; waiting for the gateway's answer." },
  unknown: {
    label: "Outcome unknown",
    tone: "attention",
    hint: "The charge may have gone through. Paydesk is checking with the gateway; do not charge again.",
  },
  needs_review: {
    label: "Needs review",
    tone: "attention",
    hint: "A manager must check the gateway and resolve this attempt. Do not charge again.",
  },
  succeeded: { label: "Succeeded", tone: "ok", hint: "The customer was charged." },
  declined: { label: "Declined", tone: "bad", hint: "The gateway refused the payment; no money moved." },
  requires_action: {
    label: "Needs authentication",
    tone: "bad",
    hint: "The card requires the customer to authenticate; no money moved.",
  },
  canceled: { label: "Canceled", tone: "neutral", hint: "Ended without any money moving." },
};

export function stateBadge(state: AttemptState): StateBadge {
  return STATE_BADGES[state];
}

/**
 * The last 8 hex digits of an attempt id. Attempt ids are UUID v7, whose leading digits are a
 * timestamp shared by every attempt of the same minute; the trailing digits are random.
 */
export function shortId(id: string): string {
  const hex = id.replaceAll("-", "");
  return hex.slice(-8);
}

export interface AttemptRow {
  key: string;
  shortId: string;
  fullId: string;
  order: string;
  attemptNumber: number;
  amount: string;
  badge: StateBadge;
  reason: string | null;
  offline: boolean;
  operator: string;
  terminal: string;
  updated: string;
  updatedUtc: string;
}

/** One table row; `offsetMinutes` is the UTC offset to show times in. */
export function toRow(attempt: AttemptView, offsetMinutes: number): AttemptRow {
  return {
    key: attempt.id,
    shortId: shortId(attempt.id),
    fullId: attempt.id,
    order: attempt.order,
    attemptNumber: attempt.number,
    amount: formatMoney(attempt.amount.minor, attempt.amount.currency, attempt.amount_exponent),
    badge: stateBadge(attempt.state),
    reason: attempt.reason,
    offline: attempt.offline,
    operator: attempt.operator,
    terminal: attempt.terminal,
    updated: formatTimestamp(attempt.updated_at, offsetMinutes),
    updatedUtc: formatUtc(attempt.updated_at),
  };
}
