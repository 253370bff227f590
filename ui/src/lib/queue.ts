// Turns the central's orders into queue rows: amounts from minor units, readable statuses, and
// who holds an order right now.
//
// Pure, so the wording is unit-tested. Which statuses may be charged is the shell's rule
// (`OrderStatus::is_chargeable`, sent as `chargeable`), not a copy kept here. An order held by
// someone is never offered for charging either: the central would refuse the claim anyway, and
// the operator should see why before trying.
import type { OrderStatus, OrderView } from "./bindings";
import { formatMoney } from "./money";
import { formatTimestamp } from "./time";

/** The central's order statuses and how operators see them. */
const STATUS_LABELS: Record<OrderStatus, string> = {
  unpaid: "Unpaid",
  paid: "Paid",
  failed: "Last charge declined",
  needs_action: "Needs customer action",
  needs_review: "Needs review",
};

export interface OrderRow {
  key: string;
  id: string;
  description: string;
  amount: string;
  status: string;
  /** "Held by X on terminal Y since Z", when someone holds the order. */
  heldBy: string | null;
  /** Whether the Charge button is offered. */
  chargeable: boolean;
}

export function statusLabel(status: OrderStatus): string {
  return STATUS_LABELS[status];
}

/** One queue row; `offsetMinutes` is the UTC offset to show times in. */
export function toOrderRow(order: OrderView, offsetMinutes: number): OrderRow {
  const held = order.claim;
  return {
    key: order.order_id,
    id: order.order_id,
    description: order.description,
    amount: formatMoney(order.amount.minor, order.amount.currency, order.amount_exponent),
    status: statusLabel(order.status),
    heldBy: held
      ? `Held by ${held.operator_id} on terminal ${held.terminal_id} since ${formatTimestamp(held.since, offsetMinutes)}`
      : null,
    chargeable: order.chargeable && held === null,
  };
}
