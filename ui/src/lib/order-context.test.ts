// Unit tests of what the operator sees before confirming: customer, card, expiry, gateway, amount.
import { describe, expect, it } from "vitest";
import type { OrderView, SavedMethod } from "./bindings";
import { formatExpiry, isExpired, orderContext } from "./order-context";

const ORDER = {
  order_id: "demo-1001",
  amount: { minor: 12_900, currency: "EUR" },
  amount_exponent: 2,
  customer_id: "cus_demo_anna",
  customer_name: "",
  payment_method_id: "pm_card_visa",
  description: "Phone order: espresso machine",
  status: "unpaid",
  chargeable: true,
  claim: null,
  paid_intent_id: null,
  refunded_minor: 0,
  disputed: false,
  created_at: 0,
  updated_at: 0,
  attempt_seq: 0,
  gateway: "stripe",
  saved_method: null,
} as unknown as OrderView;

const VISA: SavedMethod = {
  kind: "card",
  brand: "visa",
  last4: "4242",
  exp_month: 12,
  exp_year: 2028,
  email: null,
  holder_name: null,
  kind_name: null,
  read_at: 0,
  refresh_error: null,
  checked_at: 0,
};

const NOV_2026 = new Date(2026, 10, 30, 23, 59);

describe("expiry", () => {
  it("is shown as MM/YY", () => {
    expect(formatExpiry(8, 2026)).toBe("08/26");
    expect(formatExpiry(12, 2030)).toBe("12/30");
    expect(formatExpiry(1, 2005)).toBe("01/05");
  });
  it("a card is good through the last day of its expiry month", () => {
    expect(isExpired(11, 2026, NOV_2026)).toBe(false);
    expect(isExpired(10, 2026, NOV_2026)).toBe(true);
    expect(isExpired(12, 2025, new Date(2026, 0, 1))).toBe(true);
    expect(isExpired(1, 2027, new Date(2026, 11, 31))).toBe(false);
  });
});

describe("orderContext", () => {
  it("without the gateway's details, names the saved method and says nothing it does not know", () => {
    expect(orderContext(ORDER, NOV_2026)).toEqual({
      customer: "cus_demo_anna",
      card: "saved payment method pm_card_visa",
      gateway: "Stripe",
      amount: "129.00 EUR",
      cardKnown: false,
      expired: false,
      summary: "saved payment method pm_card_visa, via Stripe",
      refreshError: null,
    });
  });
  it("with them, says exactly what will be charged: brand, last 4, expiry and gateway", () => {
    const withCard = { ...ORDER, customer_name: "Anna Kovács", saved_method: VISA } as OrderView;
    const context = orderContext(withCard, NOV_2026);
    expect(context.customer).toBe("Anna Kovács");
    expect(context.card).toBe("Visa •••• 4242, exp 12/28");
    expect(context.summary).toBe("Visa •••• 4242, exp 12/28, via Stripe");
    expect(context.cardKnown).toBe(true);
    expect(context.expired).toBe(false);
  });
  it("marks an expired card as such", () => {
    const old = { ...ORDER, saved_method: { ...VISA, brand: "mastercard", last4: "4444", exp_month: 8, exp_year: 2026 } } as OrderView;
    const context = orderContext(old, NOV_2026);
    expect(context.card).toBe("Mastercard •••• 4444, expired 08/26");
    expect(context.expired).toBe(true);
  });
  it("a PayPal order names the wallet and the holder when the import named no customer", () => {
    const wallet = {
      ...ORDER,
      customer_id: "",
      gateway: "paypal",
      payment_method_id: "paypal:vault_approve",
      saved_method: { ...VISA, kind: "paypal_wallet", brand: null, last4: null, exp_month: null, exp_year: null, email: "ada@example.com", holder_name: "Ada Lovelace" },
    } as OrderView;
    const context = orderContext(wallet, NOV_2026);
    expect(context.customer).toBe("Ada Lovelace");
    expect(context.summary).toBe("PayPal wallet ada@example.com, via PayPal");
  });
  it("a method the gateway could not read keeps the reason and is not called known", () => {
    const unread = {
      ...ORDER,
      saved_method: { ...VISA, kind: "unread", brand: null, last4: null, exp_month: null, exp_year: null, refresh_error: "the stripe gateway has no payment method pm_x" },
    } as OrderView;
    const context = orderContext(unread, NOV_2026);
    expect(context.cardKnown).toBe(false);
    expect(context.refreshError).toContain("no payment method");
  });
});
