// Reversals and the evidence columns in words: amounts typed by a manager read into minor units
// (never through a float), the gateway's intent states, a reversal request's state, and the
// pre-filled reversal of a double success's extra charge. Pure, so the wording is unit-tested.
import type { GatewayIntentEvidence, Money, OrderEvidence, ReversalRequestView } from "./bindings";
import { formatMoney } from "./money";

/**
 * Decimals of a currency for showing the central's and the gateway's amounts (they come without
 * the exponent the journal's amounts carry). ISO 4217's zero- and three-decimal currencies; every
 * other has two.
 */
export function exponentOf(currency: string): number {
  if (["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"].includes(currency)) return 0;
  if (["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"].includes(currency)) return 3;
  return 2;
}

/** "129.00 EUR" for a `Money`. */
export function moneyWords(m: Money): string {
  return formatMoney(m.minor, m.currency, exponentOf(m.currency));
}

/** "12.50 EUR" for minor units and a currency. */
export function minorWords(minor: number, currency: string): string {
  return formatMoney(minor, currency, exponentOf(currency));
}

/**
 * Reads what a manager typed ("12.5", "12,50", "129") as minor units of `currency`; `null` for an
 * empty field (everything still paid). Throws a sentence that says what to type instead.
 */
export function parseAmount(text: string, currency: string): number | null {
  const t = text.trim().replace(",", ".");
  if (t === "") return null;
  const exponent = exponentOf(currency);
  const pattern = exponent === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${exponent}})?$`);
  if (!pattern.test(t)) {
    throw new Error(
      exponent === 0
        ? `Type the amount in whole ${currency}, for example 500.`
        : `Type the amount like 12.50 (at most ${exponent} decimals), or leave it empty to give back everything still paid.`,
    );
  }
  const [whole = "0", fraction = ""] = t.split(".");
  const minor = Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, "0") || "0");
  if (!Number.isSafeInteger(minor) || minor <= 0) throw new Error("The amount must be more than zero.");
  return minor;
}

/** The gateway's intent status in a manager's words. */
export function intentStatusWords(intent: GatewayIntentEvidence): string {
  if (intent.declined) return `declined${intent.decline_reason ? ` (${intent.decline_reason})` : ""}: no money moved`;
  switch (intent.status) {
    case "succeeded":
      return "succeeded: the customer was charged";
    case "processing":
      return "processing: the gateway has not finished";
    case "requires_capture":
      return "authorised, not captured yet";
    case "requires_action":
      return "waiting for the customer (for example 3-D Secure)";
    case "requires_payment_method":
    case "requires_confirmation":
      return "open: not charged, could still be charged";
    case "canceled":
      return "canceled: no money moved";
    default:
      return intent.status.replaceAll("_", " ");
  }
}

/** How the central came to look the intent up. */
export function foundByWords(intent: GatewayIntentEvidence): string {
  if (intent.found_by === "search") return "found only by searching the gateway for this order";
  if (intent.found_by === "both") return "known to the central and found at the gateway";
  return "known to the central";
}

/** A reversal request's state in words. */
export function requestStateWords(r: ReversalRequestView): string {
  switch (r.state) {
    case "waiting_for_approval":
      return "Waiting for a second manager's approval";
    case "approved":
      return `Approved by ${r.approved_by ?? "another manager"}: ${r.requested_by} sends it`;
    case "sent": {
      const result = r.result;
      if (!result) return "Sent";
      const what = result.kind === "cancel" ? "Canceled" : "Refund";
      const state = result.state === "succeeded" ? (result.kind === "cancel" ? "" : " done") : ` ${result.state}`;
      return `${what}${state}: ${minorWords(result.amount_minor, result.currency)}`;
    }
    default:
      return r.state.replaceAll("_", " ");
  }
}

/** The pre-filled reversal the inbox offers for an order charged twice: the extra charge. */
export interface ReversalDraft {
  orderId: string;
  /** `null`: everything still paid. */
  amountMinor: number | null;
  currency: string | null;
  reason: string;
}

/**
 * For an order the gateway charged more than once: a reversal of the extra charge (the amount of one
 * succeeded intent that is not the one the order is paid by), with a reason that says so. `null`
 * when the evidence shows at most one success.
 */
export function doubleChargeDraft(evidence: OrderEvidence): ReversalDraft | null {
  const succeeded = evidence.gateway.intents.filter((i) => i.status === "succeeded" && !i.declined);
  if (succeeded.length < 2) return null;
  const paidBy = evidence.central.detail.order.paid_intent_id;
  const extra = succeeded.find((i) => i.intent_id !== paidBy) ?? succeeded[succeeded.length - 1];
  if (!extra) return null;
  const currency = extra.amount?.currency ?? evidence.central.detail.order.amount.currency;
  return {
    orderId: evidence.order_id,
    amountMinor: extra.amount_received_minor || extra.amount?.minor || null,
    currency,
    reason: `Charged twice (${succeeded.map((i) => i.intent_id).join(" and ")}): give back the extra charge`,
  };
}
