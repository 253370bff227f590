// When the customer must act (issue 12, item 6): how an order waiting for its customer reads in
// the queue and the charge dialog — "Waiting for customer since …", whether a payment link was
// sent (by whom, until when) and whether the customer was contacted.
//
// Pure, so the wording is unit-tested. The facts come from the central (`customer_waits`); this
// only words them. Deliberately absent: any call, and any decision about paying (the central
// learns that from the gateway).
import type { CustomerWait, OrderStatus } from "./bindings";
import { formatTimestamp } from "./time";

/** The queue's status word for a waiting order (instead of the central's "needs action"). */
export const WAITING_LABEL = "Waiting for customer";

/** Waits by order id, for the queue to look up. */
export function waitsByOrder(waits: CustomerWait[]): Map<string, CustomerWait> {
  return new Map(waits.map((w) => [w.order_id, w]));
}

/** The lines that say where a waiting order stands, newest facts last. */
export function waitLines(wait: CustomerWait, offsetMinutes: number, nowMs: number): string[] {
  const at = (ms: number) => formatTimestamp(ms, offsetMinutes);
  const lines = [`Waiting for the customer to confirm with their bank (3-D Secure) since ${at(wait.since)}.`];
  if (wait.link_sent_at !== null) {
    const expired = wait.link_expires_at !== null && wait.link_expires_at <= nowMs;
    const by = wait.link_sent_by ? ` by ${wait.link_sent_by}` : "";
    lines.push(
      expired
        ? `Payment link sent${by} at ${at(wait.link_sent_at)}; it has expired: send a new one.`
        : `Payment link sent${by} at ${at(wait.link_sent_at)}` +
            (wait.link_expires_at !== null ? `, valid until ${at(wait.link_expires_at)}.` : "."),
    );
  } else {
    lines.push("No payment link sent yet.");
  }
  if (wait.contacted_at !== null) {
    const by = wait.contacted_by ? ` by ${wait.contacted_by}` : "";
    const note = wait.contact_note ? `: “${wait.contact_note}”` : ".";
    lines.push(`Customer contacted${by} at ${at(wait.contacted_at)}${note}`);
  }
  return lines;
}

/** One short line for the queue's status cell. */
export function waitBadge(wait: CustomerWait, offsetMinutes: number): string {
  const parts = [`since ${formatTimestamp(wait.since, offsetMinutes).slice(11, 16)}`];
  if (wait.link_sent_at !== null) parts.push("link sent");
  if (wait.contacted_at !== null) parts.push("contacted");
  return `${WAITING_LABEL} (${parts.join(", ")})`;
}

/** Whether the order offers the customer actions: it waits for its customer. */
export function offersCustomerActions(status: OrderStatus | null, outcomeKind: string | null): boolean {
  return status === "needs_action" || outcomeKind === "needs_action";
}

/** What the charge button warns while the order waits: a new charge cancels the waiting intent. */
export const RECHARGE_NOTE =
  "Charging again cancels the payment the customer was asked to confirm (their link stops working) " +
  "and tries the card again without them.";
