// Unit tests of the queue rows: amounts from minor units, statuses in words, who holds an order.
import { describe, expect, it } from "vitest";
import type { OrderView } from "./bindings";
import { statusLabel, toOrderRow } from "./queue";

const ORDER: OrderView = {
  order_id: "demo-1004",
  amount: { minor: 1999, currency: "EUR" },
  amount_exponent: 2,
  customer_id: "cus_demo_dora",
  payment_method_id: "pm_card_chargeDeclined",
  description: "Replacement filter set",
  status: "unpaid",
  chargeable: true,
  claim: null,
  paid_intent_id: null,
  refunded_minor: 0,
  disputed: false,
  created_at: 1_795_336_758_123,
  updated_at: 1_795_336_758_123,
  attempt_seq: 0,
  gateway: "stripe",
  customer_name: "",
  saved_method: null,
  paid_minor: 0,
};

describe("toOrderRow", () => {
  it("formats an unheld unpaid order and offers it for charging", () => {
    expect(toOrderRow(ORDER, 0)).toEqual({
      key: "demo-1004",
      id: "demo-1004",
      description: "Replacement filter set",
      amount: "19.99 EUR",
      status: "Unpaid",
      heldBy: null,
      chargeable: true,
    });
  });
  it("says who holds an order, on which terminal and since when, and offers no Charge", () => {
    const held = {
      ...ORDER,
      claim: { operator_id: "anna", terminal_id: "desk-2", since: 1_795_336_758_123, lease_until: 1_795_336_858_123 },
    };
    const row = toOrderRow(held, 60);
    expect(row.heldBy).toBe("Held by anna on terminal desk-2 since 2026-11-22 09:39:18");
    expect(row.chargeable).toBe(false);
  });
  it("offers Charge exactly when the shell says the status is chargeable", () => {
    // The rule itself is `OrderStatus::is_chargeable` in Rust; the UI follows the flag it sends.
    expect(toOrderRow({ ...ORDER, status: "paid", chargeable: false }, 0).chargeable).toBe(false);
    expect(toOrderRow({ ...ORDER, status: "needs_review", chargeable: false }, 0).chargeable).toBe(false);
    expect(toOrderRow({ ...ORDER, status: "needs_action", chargeable: true }, 0).chargeable).toBe(true);
  });
  it("uses the exponent the shell sent", () => {
    expect(toOrderRow({ ...ORDER, amount: { minor: 1200, currency: "JPY" }, amount_exponent: 0 }, 0).amount).toBe("1200 JPY");
  });
});

describe("statusLabel", () => {
  it("words every status", () => {
    expect(statusLabel("needs_action")).toBe("Needs customer action");
    expect(statusLabel("failed")).toBe("Last charge declined");
    expect(statusLabel("needs_review")).toBe("Needs review");
  });
});
