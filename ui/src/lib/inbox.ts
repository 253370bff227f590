// The manager's exception inbox and guided resolution in words: what each kind of item is, how long
// it has waited, and which actions to offer for an item (exactly the central's allowed actions, plus
// "retry" when the attempt is in this terminal's journal). Pure, so the wording is unit-tested.
import type { AllowedAction, EvidenceView, InboxItem, InboxView } from "./bindings";
import { formatAge } from "./time";

/** What an item's kind means, for a manager who has not read the manual. */
const KIND_WORDS: Record<string, string> = {
  needs_review: "Order in review",
  flag: "Flagged by the central",
  stale_token: "Result from a terminal that lost the order",
  dropped_results: "Results dropped (too many from one terminal)",
  unresolved_claim: "Charge stopped half-way",
  unknown_outcome: "Payment outcome not known",
  refund_pending: "Refund not finished",
  refund_failed: "Refund failed",
  reversal_pending: "Reversal not finished",
  reversal_failed: "Reversal failed",
  outside_refund: "Refund made outside Paydesk",
  attempt_unknown: "Payment outcome not known (this terminal)",
  attempt_needs_review: "Attempt in review (this terminal)",
  parked_message: "Result the central did not accept (this terminal)",
};

/** "Payment outcome not known", or the kind itself (with spaces) for a kind this screen does not know yet. */
export function kindWords(kind: string): string {
  return KIND_WORDS[kind] ?? kind.replaceAll("_", " ");
}

/** Whether the item stands for money whose fate is open (shown first and in the attention colour). */
export function isUrgent(kind: string): boolean {
  return ["unknown_outcome", "attempt_unknown", "unresolved_claim", "needs_review", "attempt_needs_review", "flag"].includes(kind);
}

/** "waiting 5 min" from the item's start and when the list was read. */
export function ageWords(item: InboxItem, readAtMs: number): string {
  const age = formatAge(readAtMs - item.since_ms);
  return age === "just now" ? "new" : `waiting ${age}`;
}

/** The badge in the navigation: "" when nothing waits, "99+" past 99. */
export function badgeText(total: number): string {
  if (total <= 0) return "";
  return total > 99 ? "99+" : String(total);
}

/**
 * The order an item names, with the gateway it goes through when the central knows it
 * (issue 13, item 4): "o-1 (PayPal)"; "—" for an item that names no order.
 */
export function orderWords(item: InboxItem): string {
  if (item.order_id === null) return "—";
  const gateway = gatewayWords(item);
  return gateway ? `${item.order_id} (${gateway})` : item.order_id;
}

const GATEWAY_WORDS: Record<string, string> = { stripe: "Stripe", paypal: "PayPal" };

/** "PayPal": the gateway of the item's order, or null when the item names none or it is not known. */
export function gatewayWords(item: InboxItem): string | null {
  if (item.order_id === null || !item.gateway) return null;
  return GATEWAY_WORDS[item.gateway] ?? item.gateway;
}

/** Where the item was found, in words. */
export function sourceWords(item: InboxItem): string {
  return item.source === "terminal" ? "this terminal" : "central";
}

/** What this terminal does itself with a result the central did not accept (its outbox). */
export type ParkedAction = "send_again" | "archive";

/** An action the resolution panel offers: the central's, "retry" on this terminal, or a parked result's. */
export interface OfferedAction {
  /** Unique among the offered actions (the key of the button). */
  key: string;
  action: AllowedAction["action"] | ParkedAction;
  intent_id: string | null;
  item_id: string | null;
  via: AllowedAction["via"];
  /** The button's words. */
  label: string;
  /** Whether it moves money (a reversal or a cancel): the confirmation says so. */
  movesMoney: boolean;
}

/**
 * The actions to offer for an order's evidence: exactly what the central allows (it refuses
 * anything else), except "retry", which is offered only when this terminal holds the attempt (it
 * is a recovery pass here). When the central gave no evidence nothing is offered but a retry of
 * this terminal's own unknown attempt.
 */
export function offeredActions(view: EvidenceView, item: InboxItem | null): OfferedAction[] {
  const localAttempt = localRetryAttempt(view, item);
  const allowed = view.evidence?.allowed_actions ?? [];
  const offered: OfferedAction[] = [];
  for (const a of allowed) {
    if (a.action === "retry" && localAttempt === null) continue;
    offered.push({
      key: `${a.action}:${a.intent_id ?? ""}:${a.item_id ?? ""}`,
      action: a.action,
      intent_id: a.intent_id,
      item_id: a.item_id,
      via: a.via,
      label: a.label,
      movesMoney: a.action === "reverse" || a.action === "cancel_open_intent",
    });
  }
  // The open item's own "acknowledge" first: the order's other items may be closed here too.
  const own = offered.findIndex((o) => o.action === "acknowledge" && o.item_id !== null && o.item_id === item?.item_id);
  if (own > 0) offered.unshift(...offered.splice(own, 1));
  offered.push(...parkedActions(item));
  if (localAttempt !== null && !offered.some((o) => o.action === "retry") && view.evidence === null) {
    offered.push({
      key: "retry::",
      action: "retry",
      intent_id: null,
      item_id: null,
      via: "terminal",
      label: "Ask the gateway again for this terminal's attempt (a recovery pass on this terminal).",
      movesMoney: false,
    });
  }
  return offered;
}

/** For a result this terminal's outbox set aside: send it again, or archive it with a reason. */
export function parkedActions(item: InboxItem | null): OfferedAction[] {
  if (item?.kind !== "parked_message" || item.outbox_id === null) return [];
  const base = { intent_id: null, item_id: item.item_id, via: "terminal" as const, movesMoney: false };
  return [
    { ...base, key: "send_again::", action: "send_again", label: "Send this result to the central again (after the cause was fixed)." },
    { ...base, key: "archive::", action: "archive", label: "Archive this result: keep it in the journal, stop sending it." },
  ];
}

/** For an item that names no order: only acknowledging it (with a reason), when the central allows that. */
export function orderlessActions(item: InboxItem): OfferedAction[] {
  if (item.order_id !== null || !item.acknowledgeable) return [];
  return [
    {
      key: `acknowledge::${item.item_id}`,
      action: "acknowledge",
      intent_id: null,
      item_id: item.item_id,
      via: "resolution",
      label: "Acknowledge: I have looked at this; no money is involved.",
      movesMoney: false,
    },
  ];
}

/** The attempt of this terminal a retry would drive: the item's own, else the order's newest unfinished one. */
export function localRetryAttempt(view: EvidenceView, item: InboxItem | null): string | null {
  if (item?.source === "terminal" && item.attempt_id && item.kind !== "parked_message") return item.attempt_id;
  const open = [...view.journal].reverse().find((t) => ["unknown", "needs_review"].includes(t.attempt.state));
  return open ? open.attempt.id : null;
}

/** The central's order status in a manager's words. */
export function orderStatusWords(status: string): string {
  switch (status) {
    case "unpaid":
      return "not paid";
    case "paid":
      return "paid";
    case "failed":
      return "not paid (the last charge failed)";
    case "needs_action":
      return "waiting for the customer";
    case "needs_review":
      return "in review: a manager decides";
    default:
      return status.replaceAll("_", " ");
  }
}

/** Items a double success produced: a flag whose words say the order was charged twice. */
export function isDoubleSuccess(item: InboxItem): boolean {
  return item.kind === "flag" && /second success|charged twice|double|multiple succe/i.test(item.summary);
}

/** The inbox's heading line: "3 items need a manager" or that nothing does. */
export function inboxHeadline(view: InboxView): string {
  if (view.total === 0) return "Nothing needs a manager right now.";
  const items = view.total === 1 ? "1 item needs" : `${view.total} items need`;
  return `${items} a manager. The oldest is at the top.`;
}
