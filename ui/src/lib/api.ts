// The shell's commands as typed functions, and the shapes they return (mirrors src-tauri/src/desk.rs).
//
// Every failure comes back as a `UiError`: the shell's own errors already have that shape, and
// anything else (the IPC bridge missing, a command refused by the capability) is wrapped into one
// here, so the screens have exactly one error shape to show.
import { invoke } from "@tauri-apps/api/core";

/** `paydesk_core::Attempt` plus the amount's currency exponent (`AttemptView` in the shell). */
export interface AttemptView {
  id: string;
  order: string;
  number: number;
  claim_token: number;
  amount: { minor: number; currency: string };
  amount_exponent: number;
  customer: string | null;
  payment_method: string;
  operator: string;
  terminal: string;
  offline: boolean;
  state: string;
  create_key: string;
  intent_id: string | null;
  created_at: number;
  updated_at: number;
  confirm_sent_at: number | null;
  unknown_checks: number;
  reason: string | null;
}

/** The journal's health (`JournalStatus` in the shell). */
export interface JournalStatus {
  path: string;
  verified: boolean;
  broken_at_seq: number | null;
  broken_kind: string | null;
  events_checked: number;
  outbox_depth: number;
  outbox_parked: number;
  outbox_oldest_age_ms: number | null;
}

/** The shell's one error shape (`UiError` in src-tauri/src/error.rs). */
export interface UiError {
  kind: string;
  message: string;
  next_step: string;
}

/** Turns whatever a failed call threw into a `UiError`; never loses the shell's own wording. */
export function toUiError(thrown: unknown): UiError {
  if (
    typeof thrown === "object" &&
    thrown !== null &&
    typeof (thrown as UiError).message === "string" &&
    typeof (thrown as UiError).next_step === "string"
  ) {
    const e = thrown as UiError;
    return { kind: typeof e.kind === "string" ? e.kind : "unknown", message: e.message, next_step: e.next_step };
  }
  // A plain string or an Error comes from the IPC layer itself (no Tauri window, a command the
  // capability does not allow): not something an operator can fix from the screen.
  return {
    kind: "bridge",
    message: "The Paydesk window could not talk to the Paydesk application.",
    next_step: "Restart Paydesk. If this keeps happening, report it to support.",
  };
}

async function call<T>(command: string): Promise<T> {
  try {
    return await invoke<T>(command);
  } catch (thrown) {
    throw toUiError(thrown);
  }
}

export const listAttempts = (): Promise<AttemptView[]> => call("list_attempts");
export const journalStatus = (): Promise<JournalStatus> => call("journal_status");
