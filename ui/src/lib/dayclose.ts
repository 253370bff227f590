// The day close as a manager reads it: the central's totals per operator in words and formatted
// amounts, each difference with the gateway as a sentence and the order it concerns, and this
// terminal's journal beside the central with the rows that disagree marked.
//
// Pure, so the wording is unit-tested; the screen is DayClose.svelte.
import type { DayClose, DayCounts } from "./bindings";
import { formatMoney } from "./money";

/** "2026-11-30": the UTC day of `ms` (the central closes UTC days). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The central's outcomes in words. An outcome this list does not know is shown as it is. */
const OUTCOMES: Record<string, string> = {
  succeeded: "Paid",
  declined: "Declined",
  requires_action: "Needs authentication",
  canceled: "Canceled",
  needs_review: "Waiting for a manager",
  refused: "Refused by the central",
};

export function outcomeLabel(outcome: string): string {
  return OUTCOMES[outcome] ?? outcome.replaceAll("_", " ");
}

/** Each kind of difference with the gateway, as a sentence a manager acts on. */
const DIFFERENCES: Record<string, string> = {
  gateway_success_not_paid: "The gateway charged the customer, but the order is not marked paid.",
  gateway_success_refunded_outside:
    "The gateway charged the customer and the charge was refunded outside Paydesk (in the gateway's dashboard); the order is not marked paid.",
  paid_without_gateway_success: "The order is marked paid, but the gateway shows no successful charge.",
  amount_differs: "The gateway charged a different amount than the order records.",
  multiple_successes: "The customer was charged more than once.",
};

export function differenceLabel(kind: string): string {
  return DIFFERENCES[kind] ?? `A difference with the gateway (${kind.replaceAll("_", " ")}).`;
}

/** An amount in minor units with the exponent the shell sent; the bare number if it has none. */
export function amountText(minor: number, currency: string, exponents: DayClose["exponents"]): string {
  const exponent = exponents.find((e) => e.currency === currency)?.exponent;
  if (exponent === undefined || minor < 0) return `${minor} ${currency} (minor units)`;
  return formatMoney(minor, currency, exponent);
}

export interface TotalRow {
  key: string;
  operator: string;
  terminal: string;
  outcome: string;
  count: number;
  amount: string;
}

/** The central's totals, one row each, sorted by operator, terminal, currency and outcome. */
export function totalRows(close: DayClose): TotalRow[] {
  return close.central.totals
    .map((t) => ({
      key: `${t.operator_id ?? ""}|${t.terminal_id}|${t.currency}|${t.outcome}`,
      operator: t.operator_id ?? "(no operator)",
      terminal: t.terminal_id,
      outcome: outcomeLabel(t.outcome),
      count: t.count,
      amount: amountText(t.sum_minor, t.currency, close.exponents),
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** The gateways by name ("stripe" → "Stripe"); a name this list does not know is shown as it is. */
const GATEWAYS: Record<string, string> = { stripe: "Stripe", paypal: "PayPal", unknown: "Unknown gateway" };

export function gatewayLabel(gateway: string): string {
  return GATEWAYS[gateway] ?? gateway;
}

export interface GatewayRow {
  key: string;
  gateway: string;
  outcome: string;
  count: number;
  amount: string;
}

/**
 * The central's totals per gateway (issue 13, item 4), one row each, sorted by gateway, currency
 * and outcome; none from a central that does not count gateways.
 */
export function gatewayRows(close: DayClose): GatewayRow[] {
  return (close.central.gateway_totals ?? [])
    .map((g) => ({
      key: `${g.gateway}|${g.currency}|${g.outcome}`,
      gateway: gatewayLabel(g.gateway),
      outcome: outcomeLabel(g.outcome),
      count: g.count,
      amount: amountText(g.sum_minor, g.currency, close.exponents),
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** "Order o-1 (PayPal), gateway payment PP-1." — the order a difference concerns, with its gateway when known. */
export function differenceOrderText(d: DayClose["central"]["differences"][number]): string {
  if (!d.order_id) return "";
  const via = d.gateway ? ` (${gatewayLabel(d.gateway)})` : "";
  const payment = d.intent_id ? `, gateway payment ${d.intent_id}` : "";
  return `Order ${d.order_id}${via}${payment}.`;
}

/** "2 paid (30.00 EUR), 1 declined". */
export function countsText(c: DayCounts, currency: string, exponents: DayClose["exponents"]): string {
  return `${c.succeeded} paid (${amountText(c.succeeded_minor, currency, exponents)}), ${c.declined} declined`;
}

/** The headline of the day: does everything agree, and if not, how many things to look at. */
export function verdict(close: DayClose): { tone: "ok" | "attention"; text: string } {
  const gateway = close.central.differences.length;
  const journal = close.comparison.filter((c) => c.differs).length;
  if (gateway === 0 && journal === 0) {
    const checked = close.central.gateway_checked ? "the central, the gateway" : "the central";
    return { tone: "ok", text: `Everything agrees: this terminal's journal, ${checked}.` };
  }
  const parts: string[] = [];
  if (gateway > 0) parts.push(`${gateway} ${gateway === 1 ? "difference" : "differences"} with the gateway`);
  if (journal > 0) parts.push(`${journal} ${journal === 1 ? "row" : "rows"} where this terminal's journal and the central disagree`);
  return { tone: "attention", text: `Look at ${parts.join(" and ")} before signing off.` };
}
