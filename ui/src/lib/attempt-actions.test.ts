// Unit tests of "unknown means check, not charge".
import { describe, expect, it } from "vitest";
import type { AttemptState, AttemptView } from "./bindings";
import { afterCheck, isOutcomeUnknown, UNKNOWN_ACTIONS, unknownByOrder } from "./attempt-actions";
import { SUCCEEDED } from "./receipt.test";

const attempt = (order: string, state: AttemptState, created_at: number): AttemptView => ({ ...SUCCEEDED, order, state, created_at });

describe("unknown outcomes", () => {
  it("offers exactly Check status and Retry the same attempt", () => {
    expect(UNKNOWN_ACTIONS.map((a) => a.label)).toEqual(["Check status", "Retry the same attempt"]);
  });
  it.each<[AttemptState, boolean]>([
    ["intent", false],
    ["created", true],
    ["registered", true],
    ["confirm_sent", true],
    ["unknown", true],
    ["succeeded", false],
    ["declined", false],
    ["needs_review", false],
  ])("%s: outcome unknown %s", (state, unknown) => {
    expect(isOutcomeUnknown(state)).toBe(unknown);
  });
  it("keeps the newest unknown attempt per order and ignores settled ones", () => {
    const byOrder = unknownByOrder([
      attempt("a", "unknown", 1),
      attempt("a", "confirm_sent", 5),
      attempt("b", "succeeded", 9),
      attempt("c", "unknown", 3),
    ]);
    expect([...byOrder.keys()].sort()).toEqual(["a", "c"]);
    expect(byOrder.get("a")?.state).toBe("confirm_sent");
  });
});

describe("afterCheck", () => {
  it("settles on a final state and says so", () => {
    expect(afterCheck("check_status", "succeeded")).toEqual({
      settled: true,
      text: "Checked at the gateway: the payment succeeded. The order is paid — do not charge again.",
    });
    expect(afterCheck("retry_same", "declined").text).toMatch(/^Retried the same attempt \(same keys\): the payment was declined/);
  });
  it("stays unsettled while the outcome is still unknown, and says not to charge", () => {
    const still = afterCheck("check_status", "unknown");
    expect(still.settled).toBe(false);
    expect(still.text).toContain("Do not charge again");
  });
});
