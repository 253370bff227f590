// Unit tests of the attempts table's rows: ids, amounts, states and times as operators see them.
import { describe, expect, it } from "vitest";
import type { AttemptState, AttemptView } from "./bindings";
import { shortId, stateBadge, toRow } from "./attempts";

const ATTEMPT: AttemptView = {
  id: "019a9f2e-3c4d-7abc-8def-0123456789ab",
  order: "ord-1001",
  number: 2,
  installment: 1,
  claim_token: 7,
  amount: { minor: 1234, currency: "EUR" },
  amount_exponent: 2,
  customer: null,
  payment_method: "pm_card_visa",
  operator: "op-anna",
  terminal: "till-1",
  offline: false,
  state: "declined",
  create_key: "create:ord-1001:2",
  intent_id: "pi_123",
  created_at: 1_795_336_758_123,
  updated_at: 1_795_336_760_000,
  confirm_sent_at: 1_795_336_759_000,
  unknown_checks: 0,
  create_retry: 0,
  confirm_retry: 0,
  reason: "card_declined",
};

describe("shortId", () => {
  it("keeps the random tail of a UUID v7, not the shared timestamp head", () => {
    expect(shortId(ATTEMPT.id)).toBe("456789ab");
    expect(shortId("019a9f2e-3c4d-7abc-8def-0000000000ff")).toBe("000000ff");
  });
});

describe("stateBadge", () => {
  it("never shows an unknown outcome as a failure", () => {
    for (const state of ["unknown", "needs_review", "confirm_sent"] as const) {
      expect(stateBadge(state).tone).not.toBe("bad");
      expect(stateBadge(state).label.toLowerCase()).not.toContain("fail");
    }
    expect(stateBadge("unknown").label).toBe("Outcome unknown");
  });
  it("labels the end states", () => {
    expect(stateBadge("succeeded")).toMatchObject({ label: "Succeeded", tone: "ok" });
    expect(stateBadge("declined")).toMatchObject({ label: "Declined", tone: "bad" });
    expect(stateBadge("canceled")).toMatchObject({ label: "Canceled", tone: "neutral" });
  });
  it("gives every state its own words, and calls only declines and authentication bad news", () => {
    const states: AttemptState[] = [
      "intent",
      "created",
      "registered",
      "confirm_sent",
      "unknown",
      "needs_review",
      "succeeded",
      "declined",
      "requires_action",
      "canceled",
    ];
    const labels = states.map((state) => stateBadge(state).label);
    expect(new Set(labels).size).toBe(states.length);
    expect(states.filter((state) => stateBadge(state).tone === "bad")).toEqual(["declined", "requires_action"]);
  });
});

describe("toRow", () => {
  it("formats every column", () => {
    expect(toRow(ATTEMPT, 60)).toEqual({
      key: ATTEMPT.id,
      shortId: "456789ab",
      fullId: ATTEMPT.id,
      order: "ord-1001",
      attemptNumber: 2,
      amount: "12.34 EUR",
      badge: stateBadge("declined"),
      reason: "card_declined",
      offline: false,
      operator: "op-anna",
      terminal: "till-1",
      updated: "2026-11-22 09:39:20",
      updatedUtc: "2026-11-22T08:39:20.000Z",
    });
  });
  it("uses the exponent the shell sent", () => {
    const yen: AttemptView = { ...ATTEMPT, amount: { minor: 1200, currency: "JPY" }, amount_exponent: 0 };
    expect(toRow(yen, 0).amount).toBe("1200 JPY");
  });
});
