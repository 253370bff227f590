// Unit tests of error normalization: the shell's wording survives, anything else gets a next step.
import { describe, expect, it } from "vitest";
import { toUiError } from "./api";

describe("toUiError", () => {
  it("keeps the shell's own errors as they are", () => {
    const shellError = { kind: "journal_locked", message: "In use.", next_step: "Close the other Paydesk." };
    expect(toUiError(shellError)).toEqual(shellError);
  });
  it("wraps bridge failures with a next step and without their internal text", () => {
    for (const thrown of ["Command list_attempts not allowed by ACL", new Error("ipc down"), undefined, 42]) {
      const e = toUiError(thrown);
      expect(e.kind).toBe("bridge");
      expect(e.next_step).toMatch(/Restart Paydesk/);
      expect(e.message).not.toMatch(/ACL|ipc down/);
    }
  });
});

describe("toUiError held_by", () => {
  it("keeps who holds the order", () => {
    const held = { kind: "held_by", message: "Held.", next_step: "Pick another.", held_by: { operator: "a", terminal: "t", since: 1 } };
    expect(toUiError(held)).toEqual(held);
  });
});
