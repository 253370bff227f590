// Unit tests of the receipt: the reference, the copied line and the printed lines.
import { describe, expect, it } from "vitest";
import type { AttemptView } from "./bindings";
import { copyText, receiptOf } from "./receipt";

export const SUCCEEDED: AttemptView = {
  amount_exponent: 2,
  id: "01JD3Z8Q6W5N4M3K2J1H0G9F8E",
  order: "demo-1001",
  number: 1,
  claim_token: 7,
  amount: { minor: 12_900, currency: "EUR" },
  customer: "cus_demo_anna",
  payment_method: "pm_card_visa",
  operator: "demo-operator",
  terminal: "desk-1",
  offline: false,
  state: "succeeded",
  create_key: "paydesk:demo-1001:1:create",
  intent_id: "pi_3Qabc",
  created_at: 1_795_336_758_123,
  updated_at: 1_795_336_760_000,
  confirm_sent_at: 1_795_336_759_000,
  unknown_checks: 0,
  create_retry: 0,
  confirm_retry: 0,
  reason: null,
} as AttemptView;

describe("receiptOf", () => {
  it("gives the gateway id and Paydesk's attempt as the reference", () => {
    const receipt = receiptOf(SUCCEEDED, "Phone order: espresso machine", [], 0);
    expect(receipt.reference).toBe("pi_3Qabc / 01JD3Z8Q6W5N4M3K2J1H0G9F8E");
    expect(receipt.gatewayId).toBe("pi_3Qabc");
    expect(receipt.attemptId).toBe(SUCCEEDED.id);
  });
  it("prints the order, the amount, both ids and who took it, with the order's own lines", () => {
    const receipt = receiptOf(SUCCEEDED, "Phone order: espresso machine", [{ label: "Card", value: "Visa •••• 4242" }], 0);
    const byLabel = Object.fromEntries(receipt.lines.map((l) => [l.label, l.value]));
    expect(byLabel).toMatchObject({
      Order: "demo-1001",
      For: "Phone order: espresso machine",
      Card: "Visa •••• 4242",
      "Amount charged": "129.00 EUR",
      "Payment id (gateway)": "pi_3Qabc",
      "Paydesk attempt": SUCCEEDED.id,
      "Taken by": "demo-operator on terminal desk-1",
    });
  });
  it("refuses to make a receipt for an attempt that did not succeed", () => {
    expect(() => receiptOf({ ...SUCCEEDED, state: "unknown" }, "", [], 0)).toThrow(/no receipt/);
  });
  it("copies one line with the amount, the order and the reference", () => {
    const receipt = receiptOf(SUCCEEDED, "x", [], 0);
    expect(copyText(receipt, "129.00 EUR")).toBe(
      "Payment of 129.00 EUR for order demo-1001, reference pi_3Qabc / 01JD3Z8Q6W5N4M3K2J1H0G9F8E",
    );
  });
});
