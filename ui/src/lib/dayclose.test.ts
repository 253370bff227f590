import { describe, expect, it } from "vitest";
import type { DayClose } from "./bindings";
import {
  amountText,
  countsText,
  differenceLabel,
  differenceOrderText,
  gatewayLabel,
  gatewayRows,
  outcomeLabel,
  totalRows,
  utcDay,
  verdict,
} from "./dayclose";

function close(over: Partial<DayClose> = {}): DayClose {
  return {
    central: {
      day: "2026-11-30",
      shift: null,
      totals: [
        { operator_id: "zoe", terminal_id: "t-1", currency: "EUR", outcome: "succeeded", count: 2, sum_minor: 3000 },
        { operator_id: "ann", terminal_id: "t-1", currency: "JPY", outcome: "declined", count: 1, sum_minor: 500 },
      ],
      totals_digest: "d",
      gateway_totals: [],
      gateway_checked: true,
      differences: [],
      sign_off: null,
    },
    terminal_id: "t-1",
    comparison: [],
    journal_error: null,
    exponents: [
      { currency: "EUR", exponent: 2 },
      { currency: "JPY", exponent: 0 },
    ],
    ...over,
  };
}

describe("day close wording", () => {
  it("names outcomes and differences in words", () => {
    expect(outcomeLabel("succeeded")).toBe("Paid");
    expect(outcomeLabel("something_new")).toBe("something new");
    expect(differenceLabel("multiple_successes")).toBe("The customer was charged more than once.");
    expect(differenceLabel("odd_kind")).toContain("odd kind");
    expect(differenceLabel("gateway_success_refunded_outside")).toContain("refunded outside Paydesk");
  });
  it("formats amounts with the exponent the shell sent", () => {
    expect(amountText(3000, "EUR", [{ currency: "EUR", exponent: 2 }])).toBe("30.00 EUR");
    expect(amountText(500, "JPY", [{ currency: "JPY", exponent: 0 }])).toBe("500 JPY");
    expect(amountText(7, "XXX", [])).toBe("7 XXX (minor units)");
  });
  it("sorts the central's totals by operator", () => {
    const rows = totalRows(close());
    expect(rows.map((r) => r.operator)).toEqual(["ann", "zoe"]);
    expect(rows[1]).toMatchObject({ outcome: "Paid", count: 2, amount: "30.00 EUR" });
  });
  it("says everything agrees only when nothing differs", () => {
    expect(verdict(close())).toEqual({ tone: "ok", text: "Everything agrees: this terminal's journal, the central, the gateway." });
    const mismatch = close({
      comparison: [
        {
          operator_id: "zoe",
          currency: "EUR",
          journal: { succeeded: 3, succeeded_minor: 4000, declined: 0 },
          central: { succeeded: 2, succeeded_minor: 3000, declined: 0 },
          differs: true,
        },
      ],
    });
    mismatch.central.differences.push({ kind: "amount_differs", order_id: "o-1", intent_id: null, detail: "x", gateway: null });
    expect(verdict(mismatch)).toEqual({
      tone: "attention",
      text: "Look at 1 difference with the gateway and 1 row where this terminal's journal and the central disagree before signing off.",
    });
    expect(countsText(mismatch.comparison[0]!.journal, "EUR", [{ currency: "EUR", exponent: 2 }])).toBe("3 paid (40.00 EUR), 0 declined");
  });
  it("gives the totals per gateway (issue 13, item 4), sorted, with amounts formatted", () => {
    const c = close();
    c.central.gateway_totals = [
      { gateway: "stripe", currency: "EUR", outcome: "succeeded", count: 1, sum_minor: 1250 },
      { gateway: "paypal", currency: "EUR", outcome: "succeeded", count: 1, sum_minor: 2000 },
      { gateway: "paypal", currency: "EUR", outcome: "declined", count: 1, sum_minor: 300 },
    ];
    expect(gatewayRows(c).map((r) => [r.gateway, r.outcome, r.count, r.amount])).toEqual([
      ["PayPal", "Declined", 1, "3.00 EUR"],
      ["PayPal", "Paid", 1, "20.00 EUR"],
      ["Stripe", "Paid", 1, "12.50 EUR"],
    ]);
    expect(gatewayLabel("unknown")).toBe("Unknown gateway");
    expect(gatewayLabel("adyen")).toBe("adyen");
  });
  it("shows no gateway rows from a central that does not count gateways", () => {
    const c = close();
    // An older central leaves the field out altogether.
    delete (c.central as Partial<DayClose["central"]>).gateway_totals;
    expect(gatewayRows(c)).toEqual([]);
  });
  it("names the gateway beside a difference's order when the central knows it", () => {
    const d = { kind: "amount_differs", order_id: "o-1", intent_id: "PP-1", detail: "x", gateway: "paypal" };
    expect(differenceOrderText(d)).toBe("Order o-1 (PayPal), gateway payment PP-1.");
    expect(differenceOrderText({ ...d, gateway: null, intent_id: null })).toBe("Order o-1.");
    expect(differenceOrderText({ ...d, order_id: null })).toBe("");
  });
  it("gives the UTC day", () => {
    expect(utcDay(1_795_336_758_123)).toBe("2026-11-22");
  });
});
