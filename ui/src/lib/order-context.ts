// What the operator must see before confirming a charge: who the customer is, which saved
// payment method will be charged (brand, last 4, expiry, gateway), and the amount.
//
// Pure and unit-tested. The card's details come from the gateway at import (issue 13's order
// fields); until an order carries them, the saved payment method's id is shown instead and the
// text says the details are not known — never a guessed brand.
import type { OrderView } from "./bindings";
import { formatMoney } from "./money";

/**
 * Order fields the import adds from the gateway. Optional here so an order without them (an
 * older central, an order imported before) still shows; names follow the central's order JSON.
 */
export type CardFields = {
  customer_name?: string | null;
  card_brand?: string | null;
  card_last4?: string | null;
  card_exp_month?: number | null;
  card_exp_year?: number | null;
  gateway?: string | null;
};

export interface OrderContext {
  /** The customer's name, else their id at the gateway. */
  customer: string;
  /** "Visa •••• 4242, expires 04/2030" or "saved payment method pm_…". */
  card: string;
  /** "Stripe" / "PayPal", when the order says. */
  gateway: string | null;
  amount: string;
  /** Whether the card's details are known (brand and last 4). */
  cardKnown: boolean;
}

const BRANDS: Record<string, string> = {
  visa: "Visa",
  mastercard: "Mastercard",
  amex: "American Express",
  discover: "Discover",
  jcb: "JCB",
  diners: "Diners Club",
  unionpay: "UnionPay",
  paypal: "PayPal",
};
const GATEWAYS: Record<string, string> = { stripe: "Stripe", paypal: "PayPal" };

/** "Visa" from "visa"; an unknown brand is shown as the gateway sent it. */
export function brandName(brand: string): string {
  return BRANDS[brand.toLowerCase()] ?? brand;
}

export function orderContext(order: OrderView): OrderContext {
  const o = order as OrderView & CardFields;
  const amount = formatMoney(order.amount.minor, order.amount.currency, order.amount_exponent);
  const customer = o.customer_name?.trim() || order.customer_id;
  const gateway = o.gateway ? (GATEWAYS[o.gateway.toLowerCase()] ?? o.gateway) : null;
  if (o.card_brand && o.card_last4) {
    const expiry =
      o.card_exp_month && o.card_exp_year ? `, expires ${String(o.card_exp_month).padStart(2, "0")}/${o.card_exp_year}` : "";
    return { customer, card: `${brandName(o.card_brand)} •••• ${o.card_last4}${expiry}`, gateway, amount, cardKnown: true };
  }
  return { customer, card: `saved payment method ${order.payment_method_id}`, gateway, amount, cardKnown: false };
}
