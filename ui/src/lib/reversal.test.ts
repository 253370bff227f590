// Amounts typed for a reversal, the gateway's states and a double charge's pre-filled reversal.
import { describe, expect, it } from "vitest";
import type { GatewayIntentEvidence, OrderEvidence, ReversalRequestView } from "./bindings";
import { doubleChargeDraft, intentStatusWords, minorWords, parseAmount, requestStateWords } from "./reversal";

function intent(over: Partial<GatewayIntentEvidence> = {}): GatewayIntentEvidence {
  return {
    intent_id: "pi_1",
    found_by: "central",
    status: "succeeded",
    declined: false,
    decline_reason: null,
    amount: { minor: 12900, currency: "EUR" },
    amount_received_minor: 12900,
    amount_refunded_minor: 0,
    refunds: [],
    metadata_order_id: "o-1",
    metadata_attempt_id: null,
    metadata_terminal_id: null,
    customer: null,
    payment_method: null,
    latest_charge: null,
    cancellation_reason: null,
    created: 0,
    ...over,
  };
}

function evidence(intents: GatewayIntentEvidence[], paidBy: string | null): OrderEvidence {
  return {
    order_id: "o-1",
    gateway: { intents, unreadable: [], searched: true, notes: [] },
    central: { detail: { order: { paid_intent_id: paidBy, amount: { minor: 12900, currency: "EUR" } } } },
  } as unknown as OrderEvidence;
}

describe("parseAmount", () => {
  it("reads decimals without floats", () => {
    expect(parseAmount("12.5", "EUR")).toBe(1250);
    expect(parseAmount("12,50", "EUR")).toBe(1250);
    expect(parseAmount("0.07", "EUR")).toBe(7);
    expect(parseAmount("129", "EUR")).toBe(12900);
    expect(parseAmount("500", "JPY")).toBe(500);
  });
  it("leaves an empty field as everything still paid", () => {
    expect(parseAmount("  ", "EUR")).toBeNull();
  });
  it("refuses what is not an amount, saying what to type", () => {
    expect(() => parseAmount("12.345", "EUR")).toThrow(/like 12.50/);
    expect(() => parseAmount("-3", "EUR")).toThrow(/like 12.50/);
    expect(() => parseAmount("1.5", "JPY")).toThrow(/whole JPY/);
    expect(() => parseAmount("0", "EUR")).toThrow(/more than zero/);
  });
});

describe("words", () => {
  it("formats minor units in their currency", () => {
    expect(minorWords(12900, "EUR")).toBe("129.00 EUR");
    expect(minorWords(500, "JPY")).toBe("500 JPY");
  });
  it("says what the gateway's state means for the money", () => {
    expect(intentStatusWords(intent())).toMatch(/charged/);
    expect(intentStatusWords(intent({ status: "requires_payment_method", declined: true, decline_reason: "card_declined" }))).toBe(
      "declined (card_declined): no money moved",
    );
    expect(intentStatusWords(intent({ status: "requires_capture" }))).toMatch(/not captured/);
  });
  it("says where a request stands", () => {
    const r = { state: "waiting_for_approval", requested_by: "m1", approved_by: null, result: null } as unknown as ReversalRequestView;
    expect(requestStateWords(r)).toBe("Waiting for a second manager's approval");
    expect(requestStateWords({ ...r, state: "approved", approved_by: "m2" })).toBe("Approved by m2: m1 sends it");
    const sent = { ...r, state: "sent", result: { kind: "refund", state: "pending", amount_minor: 15000, currency: "EUR" } } as ReversalRequestView;
    expect(requestStateWords(sent)).toBe("Refund pending: 150.00 EUR");
  });
});

describe("doubleChargeDraft", () => {
  it("pre-fills the extra charge of an order charged twice", () => {
    const draft = doubleChargeDraft(evidence([intent(), intent({ intent_id: "pi_2", amount_received_minor: 12900 })], "pi_1"));
    expect(draft).toEqual({
      orderId: "o-1",
      amountMinor: 12900,
      currency: "EUR",
      reason: "Charged twice (pi_1 and pi_2): give back the extra charge",
    });
  });
  it("offers nothing for one success", () => {
    expect(doubleChargeDraft(evidence([intent(), intent({ intent_id: "pi_2", status: "canceled" })], "pi_1"))).toBeNull();
  });
});
