import { describe, expect, it } from "vitest";
import type { AuditEntryView } from "./bindings";
import { EMPTY_AUDIT_FORM, entryAmount, kindLabel, localDayStartMs, toAuditQuery, whoText } from "./audit";

const entry = (over: Partial<AuditEntryView> = {}): AuditEntryView => ({
  at: "2026-11-30T10:00:00.000Z",
  at_ms: 0,
  kind: "reversal",
  outcome: "done",
  operator_id: "ann",
  terminal_id: "t-1",
  approver: null,
  order_id: "o-1",
  amount_minor: 1250,
  currency: "EUR",
  amount_exponent: 2,
  detail: "",
  ...over,
});

describe("audit wording", () => {
  it("names kinds in words and keeps unknown ones readable", () => {
    expect(kindLabel("pin_wrong")).toBe("Wrong PIN");
    expect(kindLabel("new_thing")).toBe("new thing");
    expect(kindLabel("result_succeeded")).toBe("Payment result: succeeded");
    expect(kindLabel("claim_released")).toBe("Gave an order back uncharged");
    expect(kindLabel("claim_renewed")).toBe("Order claim: renewed");
    // Decisions a terminal carries out, recorded at the central.
    expect(kindLabel("resolution_retry")).toBe("Manager retried an attempt with its own keys");
    expect(kindLabel("resolution_archive_result")).toBe("Manager archived a result the central refused");
    expect(kindLabel("resolution_mark_charged")).toBe("Manager's resolution: mark charged");
  });
  it("names every kind of the duplicate guard and the reattempt limits", () => {
    const guard = [
      "guard_held",
      "guard_paid",
      "guard_outcome_unknown",
      "guard_similar_payment",
      "guard_reattempt_limit",
      "guard_do_not_retry",
    ];
    const labels = guard.map(kindLabel);
    for (const [i, label] of labels.entries()) {
      // Each in words of its own, never the raw kind with spaces.
      expect(label).not.toBe(guard[i]!.replaceAll("_", " "));
      expect(label).not.toContain("_");
    }
    expect(new Set(labels).size).toBe(guard.length);
    expect(kindLabel("guard_similar_payment")).toMatch(/same customer/);
    expect(kindLabel("guard_do_not_retry")).toMatch(/not be retried/);
    expect(kindLabel("guard_new_rule")).toBe("Duplicate guard: new rule");
  });
  it("names the approver beside the person", () => {
    expect(whoText(entry())).toBe("ann");
    expect(whoText(entry({ approver: "bob" }))).toBe("ann (approved by bob)");
    expect(whoText(entry({ operator_id: null }))).toBe("—");
  });
  it("formats the amount when there is one", () => {
    expect(entryAmount(entry())).toBe("12.50 EUR");
    expect(entryAmount(entry({ amount_minor: null }))).toBe("");
  });
});

describe("toAuditQuery", () => {
  it("turns local dates into UTC instants, the end date counting in full", () => {
    const q = toAuditQuery({ ...EMPTY_AUDIT_FORM, fromDate: "2026-11-30", toDate: "2026-11-30", outcome: "refused" }, 60);
    expect(q.from_ms).toBe(Date.UTC(2026, 10, 30) - 3_600_000);
    expect(q.to_ms).toBe(Date.UTC(2026, 11, 1) - 3_600_000);
    expect(q.outcome).toBe("refused");
    expect(q.operator).toBeUndefined();
  });
  it("leaves out what is empty or not a date", () => {
    expect(toAuditQuery({ ...EMPTY_AUDIT_FORM, fromDate: "2026-02-30", operator: "  ann " }, 0)).toEqual({ operator: "ann" });
    expect(localDayStartMs("30.11.2026", 0)).toBeNull();
  });
});
