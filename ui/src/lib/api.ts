// The shell's commands as typed functions. Every type that crosses from the shell is generated from
// the Rust types into ./bindings (never edit those by hand; `src-tauri/tests/bindings.rs` says how
// to regenerate them and fails when they are stale).
//
// Every failure comes back as a `CallError`: the shell's own `UiError`, or, when the IPC bridge
// itself failed (no Tauri window, a command refused by the capability), a "bridge" error made
// here, so the screens have exactly one error shape to show.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AttemptFilter,
  AttemptView,
  ChargeProgress,
  ChargeView,
  ContactRecord,
  CustomerWaitList,
  Money,
  OrderView,
  PaymentLink,
  QueueView,
  RecoveryReport,
  Session,
  StatusView,
  StoredEvent,
  SyncView,
  TimelineView,
  TrainingView,
  Rehearsal,
  UiError,
} from "./bindings";

/** The IPC bridge failed before the shell could answer: nothing the shell said, nothing it did. */
export interface BridgeError {
  kind: "bridge";
  message: string;
  next_step: string;
}

/** What a failed call throws: the shell's error, or the bridge's. `kind` tells them apart. */
export type CallError = UiError | BridgeError;

/** Turns whatever a failed call threw into a `CallError`; never loses the shell's own wording. */
export function toCallError(thrown: unknown): CallError {
  if (
    typeof thrown === "object" &&
    thrown !== null &&
    typeof (thrown as UiError).kind === "string" &&
    typeof (thrown as UiError).message === "string" &&
    typeof (thrown as UiError).next_step === "string"
  ) {
    // The shell's `UiError` (its shape is the generated type; the kind is one of `UiErrorKind`).
    const e = thrown as UiError;
    const error: UiError = { kind: e.kind, message: e.message, next_step: e.next_step };
    if (e.held_by) error.held_by = e.held_by;
    if (e.offline_refusal) error.offline_refusal = e.offline_refusal;
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

// Tauri names command arguments in camelCase on this side (`orderId` for the shell's `order_id`).
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (thrown) {
    throw toCallError(thrown);
  }
}

export const signIn = (operator: string, pin: string): Promise<Session> => call("sign_in", { operator, pin });
export const signOut = (): Promise<void> => call("sign_out");
export const loadQueue = (): Promise<QueueView> => call("queue");
/**
 * `confirmSimilar`: the operator chose "Charge anyway" after the similar-payment warning.
 * `chargeAmount`: what this payment charges when it is not the balance due (a deposit, part of the
 * balance), with the operator's `reason`; `null` charges the balance due.
 */
export const charge = (
  orderId: string,
  expectedAmount: Money,
  confirmSimilar = false,
  chargeAmount: Money | null = null,
  reason: string | null = null,
): Promise<ChargeView> => call("charge", { orderId, expectedAmount, confirmSimilar, chargeAmount, reason });
export const listAttempts = (filter: AttemptFilter = {}): Promise<AttemptView[]> => call("attempts", { filter });
export const attemptTimeline = (id: string): Promise<TimelineView> => call("attempt_timeline", { id });
export const loadStatus = (): Promise<StatusView> => call("status");
export const recoverNow = (): Promise<RecoveryReport> => call("recover_now");
export const syncNow = (): Promise<SyncView> => call("sync_now");
/** Reads the order's saved payment method at its gateway again (issue 12, item 1). */
export const refreshCard = (orderId: string): Promise<OrderView> => call("refresh_card", { orderId });
/** Records in the journal that a succeeded attempt's receipt was copied or printed. */
export const receiptGiven = (attemptId: string, how: "copied" | "printed"): Promise<StoredEvent> =>
  call("receipt_given", { attemptId, how });

// When the customer must act (issue 12, item 6): the orders waiting for their customer, a
// payment link (answered once), and a recorded contact.
export const loadCustomerWaits = (): Promise<CustomerWaitList> => call("customer_waits");
export const sendPaymentLink = (orderId: string): Promise<PaymentLink> => call("send_payment_link", { orderId });
export const markCustomerContacted = (orderId: string, note: string): Promise<ContactRecord> =>
  call("mark_customer_contacted", { orderId, note });

// Training mode in the demo (issue 12, item 9): the switch and the rehearsal picker. The state
// itself comes with every status (`ReadyStatus.training`).
export const setTraining = (on: boolean): Promise<TrainingView> => call("set_training", { on });
/** Arms `rehearsal` (replacing the one armed), or ends the rehearsal with `null`. */
export const rehearse = (rehearsal: Rehearsal | null): Promise<TrainingView> => call("rehearse", { rehearsal });

/** Calls `handler` for every charge progress event until the returned function is called. */
export function onChargeProgress(handler: (event: ChargeProgress) => void): Promise<UnlistenFn> {
  return listen<ChargeProgress>("charge-progress", (event) => handler(event.payload));
}

// manager: reports (D2) — the day close, the audit log, the journal review, the outbox and the
// offline allowance. An export takes the path the person chose in the save dialog (./csv.ts); the
// shell writes the file.
import type {
  AuditPage,
  AuditQuery,
  DayClose,
  DaySignOff,
  ExportView,
  GrantOfflineRequest,
  JournalReviewView,
  JournalSearch,
  OfflineView,
  OutboxView,
  ReceiptView,
} from "./bindings";

/** A UTC day's close, or one shift of it (`HH:MM-HH:MM`, UTC; `null` for the whole day). */
export const loadDayClose = (day: string, shift: string | null = null): Promise<DayClose> =>
  call("day_close", { day, shift });
export const signOffDay = (day: string, pin: string, note: string | null): Promise<DaySignOff> =>
  call("sign_off_day", { day, pin, note });
export const exportDayClose = (close: DayClose, path: string): Promise<ExportView> =>
  call("export_day_close", { close, path });
export const loadAudit = (query: AuditQuery): Promise<AuditPage> => call("audit", { query });
export const exportAudit = (query: AuditQuery, path: string): Promise<ExportView> => call("export_audit", { query, path });
export const reviewJournal = (search: JournalSearch): Promise<JournalReviewView> => call("journal_review", { search });
export const journalReceipt = (): Promise<ReceiptView> => call("journal_receipt");
export const exportJournal = (search: JournalSearch, path: string): Promise<ExportView> =>
  call("export_journal", { search, path });
export const loadOutbox = (): Promise<OutboxView> => call("outbox");
export const retryParked = (id: number, pin: string): Promise<OutboxView> => call("outbox_retry", { id, pin });
export const archiveParked = (id: number, pin: string, reason: string): Promise<OutboxView> =>
  call("outbox_archive", { id, pin, reason });
export const loadOfflineAllowance = (): Promise<OfflineView> => call("offline_allowance");
export const grantOffline = (request: GrantOfflineRequest): Promise<OfflineView> => call("grant_offline", { request });
export const withdrawOffline = (pin: string): Promise<OfflineView> => call("withdraw_offline", { pin });

// manager: inbox and reversals (D1) — the exception inbox, an order's evidence and a decision on
// it (reason + PIN), retrying an attempt here, and reversals with a second manager's approval.
import type {
  DecisionView,
  EvidenceView,
  InboxView,
  ReversalRequestView,
  ReversalView,
} from "./bindings";

/** A decision the central takes on an order (`acknowledge` closes an item with a reason). */
export interface Decision {
  action: "mark_charged" | "mark_not_charged" | "cancel_open_intent" | "acknowledge";
  intent_id?: string | null;
  item_id?: string | null;
  reason: string;
  pin: string;
}

export const loadInbox = (): Promise<InboxView> => call("manager_inbox");
export const loadEvidence = (orderId: string): Promise<EvidenceView> => call("order_evidence", { orderId });
export const resolveOrder = (orderId: string, decision: Decision): Promise<DecisionView> =>
  call("resolve_order", { orderId, decision });
export const retryAttempt = (attemptId: string, reason: string, pin: string): Promise<DecisionView> =>
  call("retry_attempt", { attemptId, reason, pin });
export const requestReversal = (
  orderId: string,
  amount: Money | null,
  reason: string,
  pin: string,
): Promise<ReversalView> => call("request_reversal", { orderId, amount, reason, pin });
export const loadReversalRequests = (): Promise<ReversalRequestView[]> => call("reversal_requests");
export const approveReversal = (reversalKey: string, pin: string): Promise<ReversalView> =>
  call("approve_reversal", { reversalKey, pin });
export const sendReversal = (reversalKey: string, pin: string): Promise<ReversalView> =>
  call("send_reversal", { reversalKey, pin });

// manager: settings (D2) — permissions per role, refund limits per person, the four-eyes threshold;
// every change takes the manager's PIN again.
import type { Action, Role, SettingsView } from "./bindings";

export const loadSettings = (): Promise<SettingsView> => call("settings");
export const setApprovalThreshold = (amount: string, currency: string, pin: string): Promise<SettingsView> =>
  call("set_approval_threshold", { amount, currency, pin });
export const setPermissions = (role: Role, actions: Action[], pin: string): Promise<SettingsView> =>
  call("set_permissions", { role, actions, pin });
export const setLimit = (
  operator: string,
  currency: string,
  perRefund: string,
  perDay: string,
  pin: string,
): Promise<SettingsView> => call("set_limit", { operator, currency, perRefund, perDay, pin });
