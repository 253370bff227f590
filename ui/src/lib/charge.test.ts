// Unit tests of the charge dialog's logic: steps as they happen, and final states in plain words —
// never "failed" for an unknown outcome.
import { describe, expect, it } from "vitest";
import type { AttemptState, AttemptView, ChargeView, Progress, UiError } from "./bindings";
import {
  offersChargeAnyway,
  offlineNote,
  outcomeOf,
  outcomeOfError,
  reachedStep,
  stepLines,
  waitingNote,
  wasJournaled,
} from "./charge";

const ATTEMPT: AttemptView = {
  id: "019a9f2e-3c4d-7abc-8def-0123456789ab",
  order: "demo-1001",
  number: 1,
  installment: 1,
  claim_token: 1,
  amount: { minor: 12900, currency: "EUR" },
  amount_exponent: 2,
  customer: "cus_demo_anna",
  payment_method: "pm_card_visa",
  operator: "demo-operator",
  terminal: "desk-1",
  offline: false,
  state: "succeeded",
  create_key: "create:demo-1001:1",
  intent_id: "pi_1",
  created_at: 1_795_336_758_123,
  updated_at: 1_795_336_760_000,
  confirm_sent_at: 1_795_336_759_000,
  unknown_checks: 0,
  create_retry: 0,
  confirm_retry: 0,
  reason: null,
};

const view = (state: AttemptState, extra: Partial<AttemptView> = {}, pending: string | null = null): ChargeView => ({
  attempt: { ...ATTEMPT, state, ...extra },
  pending,
});

const step = (state: AttemptState): Progress => ({ kind: "step", attempt_id: ATTEMPT.id, event: "x", state });
const CLAIMED: Progress = { kind: "claimed", order: "demo-1001", attempt_number: 1 };

describe("steps", () => {
  it("follows the protocol's order", () => {
    expect(reachedStep([])).toBe(-1);
    expect(reachedStep([CLAIMED])).toBe(0);
    expect(reachedStep([CLAIMED, step("intent"), step("created")])).toBe(2);
    expect(reachedStep([CLAIMED, step("intent"), step("created"), step("registered"), step("confirm_sent"), step("succeeded")])).toBe(5);
  });
  it("marks done, the current step while running, and the rest to do", () => {
    const lines = stepLines([CLAIMED, step("intent")], true);
    expect(lines.map((l) => l.status)).toEqual(["done", "done", "current", "todo", "todo", "todo"]);
    expect(lines[4]!.label).toBe("Confirm sent");
    expect(stepLines([CLAIMED, step("intent")], false).some((l) => l.status === "current")).toBe(false);
  });
  it("counts an unknown outcome as reaching the outcome step", () => {
    expect(reachedStep([step("unknown")])).toBe(5);
  });
  it("knows when the attempt reached the journal", () => {
    expect(wasJournaled([CLAIMED])).toBe(false);
    expect(wasJournaled([CLAIMED, step("intent")])).toBe(true);
  });
  it("counts a manager's offline allowance as the claim, and says so in the steps", () => {
    const offline: Progress = { kind: "offline", order: "demo-1001", approved_by: "mia" };
    expect(reachedStep([offline])).toBe(0);
    expect(wasJournaled([offline])).toBe(false);
    const lines = stepLines([offline, step("intent"), step("created"), step("registered")], true);
    expect(lines.map((l) => l.status)).toEqual(["done", "done", "done", "done", "current", "todo"]);
    expect(lines[0]!.label).toBe("Offline: allowed by mia (the central is unreachable)");
    expect(lines[3]!.label).toMatch(/^Allowed offline/);
    expect(lines.map((l) => l.label).join(" ")).not.toMatch(/claimed|Registered at the central/);
    expect(offlineNote([offline])).toMatch(/offline under mia's allowance/);
  });
  it("words an online charge without any offline note", () => {
    expect(stepLines([CLAIMED], true)[0]!.label).toBe("Order claimed");
    expect(offlineNote([CLAIMED, step("intent")])).toBeNull();
  });
  it("says when the engine waits out an ambiguous answer, with its bound", () => {
    expect(waitingNote([CLAIMED])).toBeNull();
    const note = waitingNote([{ kind: "waiting", attempt_id: ATTEMPT.id, what: "confirm_answered", delay_ms: 1000 }]);
    expect(note).toMatch(/asking again in 1 s/);
  });
});

describe("outcomeOf", () => {
  it("says Paid with the amount", () => {
    expect(outcomeOf(view("succeeded"))).toMatchObject({ kind: "paid", tone: "ok", title: "Paid" });
    expect(outcomeOf(view("succeeded")).detail).toContain("129.00 EUR");
  });
  it("says Declined with the reason", () => {
    const o = outcomeOf(view("declined", { reason: "card_declined" }));
    expect(o).toMatchObject({ kind: "declined", tone: "bad", title: "Declined: card_declined" });
    expect(o.detail).toMatch(/No money moved/);
  });
  it("says the customer must act", () => {
    expect(outcomeOf(view("requires_action")).title).toBe("Needs customer action");
  });
  it("never calls an open or unknown outcome failed, and says not to charge again", () => {
    for (const state of ["intent", "created", "registered", "confirm_sent", "unknown"] as const) {
      const o = outcomeOf(view(state, {}, "the gateway's answer is not known yet"));
      expect(o.kind).toBe("pending");
      expect(o.title).toMatch(/DO NOT charge again/);
      expect(o.detail).toMatch(/Recovery will settle it/);
      expect(`${o.title} ${o.detail}`.toLowerCase()).not.toContain("fail");
    }
  });
  it("sends a review to a manager", () => {
    expect(outcomeOf(view("needs_review")).title).toMatch(/manager/);
  });
});

describe("outcomeOfError", () => {
  const held: UiError = {
    kind: "held_by",
    message: "This order is being charged by anna on terminal desk-2 since 2026-11-22T08:39:18.123Z.",
    next_step: "Leave it to them and pick another order. Do not charge it here.",
    held_by: { operator: "anna", terminal: "desk-2", since: 1_795_336_758_123 },
  };
  it("says who holds the order and since when, in local time", () => {
    const o = outcomeOfError(held, false, 60);
    expect(o.kind).toBe("held");
    expect(o.title).toBe("Held by anna on terminal desk-2 since 2026-11-22 09:39:18");
  });
  it("says not charged, with the next step, for errors before anything was sent", () => {
    const o = outcomeOfError({ kind: "amount_changed", message: "The amount changed.", next_step: "Reload the queue." }, false, 0);
    expect(o).toMatchObject({ kind: "not_charged", title: "Not charged: The amount changed.", detail: "Reload the queue." });
  });
  it("says pending, not failed, for an error after the attempt was journaled", () => {
    const o = outcomeOfError({ kind: "internal", message: "Paydesk hit an internal error.", next_step: "Restart." }, true, 0);
    expect(o.kind).toBe("pending");
    expect(o.title).toMatch(/DO NOT charge again/);
  });
});

describe("the similar-payment warning", () => {
  const similar: UiError = {
    kind: "similar_payment",
    message:
      "Order ORD-4 may be a duplicate: customer cus_same already paid 12.34 EUR on order ORD-1 within the last 4 hours: op-anna on terminal till-1 at 2026-11-30T21:07:39.303Z (attempt 1, gateway id pi_c18d, 12.34 EUR).",
    next_step: "Nothing was charged. Check with the customer that this is a separate payment; if it is, choose Charge anyway.",
  };
  it("shows the central's words, which name the earlier order, and offers Charge anyway", () => {
    const o = outcomeOfError(similar, false, 0);
    expect(o.kind).toBe("similar_payment");
    expect(o.title).toBe("Possible duplicate — not charged");
    expect(o.detail).toBe(`${similar.message} ${similar.next_step}`);
    expect(o.detail).toContain("on order ORD-1");
    expect(offersChargeAnyway(o)).toBe(true);
  });
  it("is never taken for a pending charge, even after a journaled step", () => {
    expect(outcomeOfError(similar, true, 0).kind).toBe("similar_payment");
  });
  it("offers no way around any other refusal", () => {
    const refusals: UiError[] = [
      { kind: "held_by", message: "Held.", next_step: "Pick another order." },
      { kind: "not_chargeable", message: "Paid.", next_step: "Reload." },
      { kind: "reattempt_refused", message: "The card reached its limit.", next_step: "Ask for another card." },
      { kind: "central_refused", message: "Refused.", next_step: "Reload." },
    ];
    for (const e of refusals) {
      expect(offersChargeAnyway(outcomeOfError(e, false, 0))).toBe(false);
    }
    // A reattempt refusal comes before anything is sent: "not charged", never "pending".
    expect(outcomeOfError(refusals[2]!, true, 0)).toMatchObject({ kind: "not_charged" });
    expect(offersChargeAnyway(outcomeOf(view("succeeded")))).toBe(false);
  });
});
