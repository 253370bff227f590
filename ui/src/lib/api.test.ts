// Unit tests of error normalization: the shell's wording survives, anything else gets a next step.
import { describe, expect, it } from "vitest";
import { toCallError } from "./api";
import type { UiError } from "./bindings";

describe("toCallError", () => {
  it("keeps the shell's own errors as they are", () => {
    const shellError = { kind: "journal_locked", message: "In use.", next_step: "Close the other Paydesk." };
    expect(toCallError(shellError)).toEqual(shellError);
  });
  it("wraps bridge failures with a next step and without their internal text", () => {
    for (const thrown of ["Command list_attempts not allowed by ACL", new Error("ipc down"), undefined, 42]) {
      const e = toCallError(thrown);
      expect(e.kind).toBe("bridge");
      expect(e.next_step).toMatch(/Restart Paydesk/);
      expect(e.message).not.toMatch(/ACL|ipc down/);
    }
  });
});

describe("toCallError held_by", () => {
  it("keeps who holds the order", () => {
    const held = { kind: "held_by", message: "Held.", next_step: "Pick another.", held_by: { operator: "a", terminal: "t", since: 1 } };
    expect(toCallError(held)).toEqual(held);
  });
  it("keeps which offline rule refused a charge", () => {
    const refused: UiError = {
      kind: "offline_blocked",
      message: "Offline refused.",
      next_step: "Wait for the central.",
      offline_refusal: { rule: "per_charge_cap", amount: { minor: 9_000, currency: "EUR" }, per_charge_max: { minor: 5_000, currency: "EUR" } },
    };
    expect(toCallError(refused)).toEqual(refused);
  });
});
