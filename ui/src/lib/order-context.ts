// What the operator must see before confirming a charge: who the customer is, which saved
// payment method will be charged (brand, last 4, expiry, and the gateway it goes through), and
// the amount — and whether the card has expired.
//
// Pure and unit-tested. The card's details are what the central read from the gateway at import
// or at the last "Refresh card" (`OrderView.saved_method`); an order whose card was never read
// shows its saved payment method's id and says the details are not known — never a guessed brand.
import type { OrderView, SavedMethod } from "./bindings";
import { formatMoney } from "./money";

export interface OrderContext {
  /** The customer's name as imported, else the gateway's holder name, else their id. */
  customer: string;
  /** "Visa •••• 4242, exp 12/28" (or "…, expired 08/26"), "PayPal wallet ada@example.com". */
  card: string;
  /** "Stripe" / "PayPal". */
  gateway: string | null;
  amount: string;
  /** Whether the method's details are known (a card's brand and last 4, a wallet). */
  cardKnown: boolean;
  /** The card's expiry month has passed. */
  expired: boolean;
  /** Exactly what will be charged: "Visa •••• 4242, exp 12/28, via Stripe". */
  summary: string;
  /** The last read at the gateway failed: what it said (the details shown are older). */
  refreshError: string | null;
}

const BRANDS: Record<string, string> = {
  visa: "Visa",
  mastercard: "Mastercard",
  amex: "American Express",
  discover: "Discover",
  jcb: "JCB",
  diners: "Diners Club",
  unionpay: "UnionPay",
  cartes_bancaires: "Cartes Bancaires",
};
const GATEWAYS: Record<string, string> = { stripe: "Stripe", paypal: "PayPal" };

/** "Visa" from "visa"; an unknown brand is shown as the gateway sent it. */
export function brandName(brand: string): string {
  return BRANDS[brand.toLowerCase()] ?? brand;
}

/** "12/28" from December 2028. */
export function formatExpiry(month: number, year: number): string {
  return `${String(month).padStart(2, "0")}/${String(year % 100).padStart(2, "0")}`;
}

/**
 * Whether a card expiring in `month`/`year` has expired by `now`: a card is good through the
 * last day of its expiry month (the operator's own calendar month decides).
 */
export function isExpired(month: number, year: number, now: Date): boolean {
  const thisYear = now.getFullYear();
  const thisMonth = now.getMonth() + 1;
  return year < thisYear || (year === thisYear && month < thisMonth);
}

/** The saved method in words, and whether it is known and expired. */
export function methodWords(method: SavedMethod | null, sourceId: string, now: Date): { card: string; known: boolean; expired: boolean } {
  if (method === null) return { card: `saved payment method ${sourceId}`, known: false, expired: false };
  switch (method.kind) {
    case "card": {
      const head = `${brandName(method.brand ?? "card")} •••• ${method.last4 ?? "????"}`;
      if (method.exp_month === null || method.exp_year === null) return { card: head, known: true, expired: false };
      const expired = isExpired(method.exp_month, method.exp_year, now);
      const expiry = formatExpiry(method.exp_month, method.exp_year);
      return { card: `${head}, ${expired ? "expired" : "exp"} ${expiry}`, known: true, expired };
    }
    case "paypal_wallet":
      return { card: method.email ? `PayPal wallet ${method.email}` : "PayPal wallet", known: true, expired: false };
    case "other":
      return { card: `${method.kind_name ?? "saved payment method"} ${sourceId}`, known: true, expired: false };
    case "unread":
      return { card: `saved payment method ${sourceId}`, known: false, expired: false };
  }
}

export function orderContext(order: OrderView, now: Date = new Date()): OrderContext {
  const amount = formatMoney(order.amount.minor, order.amount.currency, order.amount_exponent);
  const method = order.saved_method ?? null;
  const customer =
    order.customer_name?.trim() || method?.holder_name?.trim() || order.customer_id || "customer not named";
  const gateway = order.gateway ? (GATEWAYS[order.gateway] ?? order.gateway) : null;
  const words = methodWords(method, order.payment_method_id, now);
  const summary = gateway ? `${words.card}, via ${gateway}` : words.card;
  return {
    customer,
    card: words.card,
    gateway,
    amount,
    cardKnown: words.known,
    expired: words.expired,
    summary,
    refreshError: method?.refresh_error ?? null,
  };
}
