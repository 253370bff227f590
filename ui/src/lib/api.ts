// The shell's commands as typed functions, and the shapes they return (mirrors src-tauri/src/desk.rs).
//
// Every failure comes back as a `UiError`: the shell's own errors already have that shape, and
// anything else (the IPC bridge missing, a command refused by the capability) is wrapped into one
// here, so the screens have exactly one error shape to show.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** `paydesk_core::Money` as the shell serializes it. */
export interface Money {
  minor: number;
  currency: string;
}

/** `paydesk_core::Attempt` plus the amount's currency exponent (`AttemptView` in the shell). */
export interface AttemptView {
  id: string;
  order: string;
  number: number;
  claim_token: number;
  amount: Money;
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

/** Who holds an order's processing flag (`ClaimHolder` in the protocol). */
export interface ClaimHolder {
  operator_id: string;
  terminal_id: string;
  since: number;
  lease_until: number;
}

/** An order of the queue (`OrderView`: the protocol's `Order` plus the amount's exponent). */
export interface OrderView {
  order_id: string;
  amount: Money;
  amount_exponent: number;
  customer_id: string;
  payment_method_id: string;
  description: string;
  status: string;
  claim: ClaimHolder | null;
  paid_intent_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface QueueView {
  orders: OrderView[];
  offline: boolean;
  cached_at: number | null;
}

export interface Session {
  operator: string;
  role: "operator" | "manager";
  offline: boolean;
  signed_in_at: number;
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

export interface RecoveryReport {
  examined: number;
  finished: number;
  needs_review: number;
  still_open: number;
  errors: string[];
}

export interface ReadyStatus {
  phase: "ready";
  online: boolean;
  embedded: boolean;
  central_url: string;
  terminal: string;
  session: Session | null;
  journal: JournalStatus;
  unresolved: number;
  last_recovery: (RecoveryReport & { at: number }) | null;
}

export type StatusView = { phase: "starting"; elapsed_ms: number; startup_ms_max: number } | ReadyStatus;

/** One stored event of an attempt's history. */
export interface StoredEvent {
  seq: number;
  attempt_id: string;
  at: number;
  kind: string;
  from_state: string | null;
  to_state: string;
  detail: unknown;
  hash: string;
}

export interface TimelineView {
  attempt: AttemptView;
  events: StoredEvent[];
}

export interface ChargeView {
  attempt: AttemptView;
  pending: string | null;
}

export interface SyncView {
  delivered: number;
  parked: number;
  waiting: number;
  unreachable: boolean;
}

/** The engine's progress events (`paydesk_engine::Progress`). */
export type Progress =
  | { kind: "claimed"; order: string; attempt_number: number }
  | { kind: "step"; attempt_id: string; event: string; state: string }
  | { kind: "waiting"; attempt_id: string; what: string; delay_ms: number };

export interface ChargeProgress {
  order: string;
  progress: Progress;
}

/** The shell's one error shape (`UiError` in src-tauri/src/error.rs). */
export interface UiError {
  kind: string;
  message: string;
  next_step: string;
  held_by?: { operator: string; terminal: string; since: number };
}

/** Filters of the journal view (`AttemptFilter` in the journal). */
export interface AttemptFilter {
  state?: string;
  operator?: string;
  order?: string;
  limit?: number;
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
    const error: UiError = {
      kind: typeof e.kind === "string" ? e.kind : "unknown",
      message: e.message,
      next_step: e.next_step,
    };
    if (e.held_by) error.held_by = e.held_by;
    return error;
  }
  // A plain string or an Error comes from the IPC layer itself (no Tauri window, a command the
  // capability does not allow): not something an operator can fix from the screen.
  return {
    kind: "bridge",
    message: "The Paydesk window could not talk to the Paydesk application.",
    next_step: "Restart Paydesk. If this keeps happening, report it to support.",
  };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (thrown) {
    throw toUiError(thrown);
  }
}

export const signIn = (operator: string, pin: string): Promise<Session> => call("sign_in", { operator, pin });
export const signOut = (): Promise<void> => call("sign_out");
export const loadQueue = (): Promise<QueueView> => call("queue");
export const charge = (orderId: string, expectedAmount: Money): Promise<ChargeView> =>
  call("charge", { orderId, expectedAmount });
export const listAttempts = (filter: AttemptFilter = {}): Promise<AttemptView[]> => call("attempts", { filter });
export const attemptTimeline = (id: string): Promise<TimelineView> => call("attempt_timeline", { id });
export const loadStatus = (): Promise<StatusView> => call("status");
export const recoverNow = (): Promise<RecoveryReport> => call("recover_now");
export const syncNow = (): Promise<SyncView> => call("sync_now");

/** Calls `handler` for every charge progress event until the returned function is called. */
export function onChargeProgress(handler: (event: ChargeProgress) => void): Promise<UnlistenFn> {
  return listen<ChargeProgress>("charge-progress", (event) => handler(event.payload));
}
