// Turns an attempt's stored events into timeline lines: when, what happened, which states, and the
// start of the chain hash (enough to compare with an export by eye).
//
// Pure, so the wording is unit-tested.
import type { StoredEvent } from "./bindings";
import { stateBadge } from "./attempts";
import { formatTimestamp } from "./time";

/** The journal's event kinds (`AttemptEvent::kind` in the core, plus "begun") in words. */
const EVENT_WORDS: Record<string, string> = {
  begun: "Attempt journaled",
  create_answered: "Gateway answered the create",
  register_answered: "Central answered the registration",
  confirm_begun: "Confirm sent",
  confirm_answered: "Gateway answered the confirm",
  retrieved: "Looked up at the gateway",
  create_abandoned: "Create abandoned",
  create_searched: "Searched the gateway for the intent",
  takeover_cancel: "Cancel of the previous holder's intent sent",
  withdrawn: "Withdrawn before anything was sent",
  escalated: "Handed to a manager",
  resolved: "Resolved by a manager",
  sealed: "Sealed when the journal was upgraded",
  outbox_retried: "Result sent again by a manager",
  outbox_archived: "Result archived by a manager",
  receipt_given: "Receipt given to the customer",
};

/** A receipt's event in words: how it was given and by whom ("Receipt printed by alice"). */
function receiptWords(detail: unknown): string | null {
  if (typeof detail !== "object" || detail === null) return null;
  const { how, by } = detail as { how?: unknown; by?: unknown };
  if (how !== "copied" && how !== "printed") return null;
  return `Receipt ${how} for the customer${typeof by === "string" ? ` by ${by}` : ""}`;
}

export interface TimelineLine {
  seq: number;
  at: string;
  what: string;
  /** "Starting → Intent created" in the badges' words. */
  states: string;
  hash: string;
}

export function timelineLines(events: StoredEvent[], offsetMinutes: number): TimelineLine[] {
  return events.map((e) => ({
    seq: e.seq,
    at: formatTimestamp(e.at, offsetMinutes),
    what: (e.kind === "receipt_given" ? receiptWords(e.detail) : null) ?? EVENT_WORDS[e.kind] ?? e.kind.replaceAll("_", " "),
    states:
      e.from_state === null
        ? stateBadge(e.to_state).label
        : `${stateBadge(e.from_state).label} → ${stateBadge(e.to_state).label}`,
    hash: e.hash.slice(0, 12),
  }));
}
