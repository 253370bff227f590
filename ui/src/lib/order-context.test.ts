// Unit tests of what the operator sees before confirming: customer, card, gateway, amount.
import { describe, expect, it } from "vitest";
import type { OrderView } from "./bindings";
import { orderContext } from "./order-context";

const ORDER: OrderView = {
  order_id: "demo-1001",
  amount: { minor: 12_900, currency: "EUR" },
  amount_exponent: 2,
  customer_id: "cus_demo_anna",
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
} as OrderView;

describe("orderContext", () => {
  it("without the gateway's card details, names the saved method and says nothing it does not know", () => {
    expect(orderContext(ORDER)).toEqual({
      customer: "cus_demo_anna",
      card: "saved payment method pm_card_visa",
      gateway: null,
      amount: "129.00 EUR",
      cardKnown: false,
    });
  });
  it("with them, shows the name, brand, last 4, expiry and gateway", () => {
    const withCard = {
      ...ORDER,
      customer_name: "Anna Szabó",
      card_brand: "visa",
      card_last4: "4242",
      card_exp_month: 4,
      card_exp_year: 2030,
      gateway: "stripe" as const,
    };
    expect(orderContext(withCard)).toEqual({
      customer: "Anna Szabó",
      card: "Visa •••• 4242, expires 04/2030",
      gateway: "Stripe",
      amount: "129.00 EUR",
      cardKnown: true,
    });
  });
});
