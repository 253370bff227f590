// Unit tests of deposits and balances: the balance due, the amount field's default, and what an
// operator may type (integer minor units, more than zero, at most the balance, a reason when the
// amount is not the balance).
import { describe, expect, it } from "vitest";
import type { OrderView } from "./bindings";
import { balanceMinor, balanceNote, checkAmount, defaultAmountText, isPartlyPaid, paidNote, reasonProblem } from "./installments";

const ORDER: OrderView = {
  order_id: "demo-1001",
  amount: { minor: 12900, currency: "EUR" },
  amount_exponent: 2,
  customer_id: "cus_demo_anna",
  payment_method_id: "pm_card_visa",
  description: "Espresso machine service",
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
  customer_name: "Anna Kovács",
  saved_method: null,
  paid_minor: 0,
};
const PARTLY: OrderView = { ...ORDER, paid_minor: 3000, attempt_seq: 1 };
const YEN: OrderView = { ...ORDER, amount: { minor: 150000, currency: "JPY" }, amount_exponent: 0 };

describe("the balance due", () => {
  it("is the whole amount before any payment, and no note is shown", () => {
    expect(balanceMinor(ORDER)).toBe(12900);
    expect(isPartlyPaid(ORDER)).toBe(false);
    expect(balanceNote(ORDER)).toBeNull();
    expect(paidNote(ORDER)).toBeNull();
  });

  it("is what is left after a deposit, in words", () => {
    expect(balanceMinor(PARTLY)).toBe(9900);
    expect(isPartlyPaid(PARTLY)).toBe(true);
    expect(balanceNote(PARTLY)).toBe("Balance 99.00 of 129.00 EUR");
    expect(paidNote(PARTLY)).toBe("Paid so far: 30.00 EUR");
  });

  it("is never negative, and a fully paid order is not 'partly paid'", () => {
    const paid = { ...ORDER, paid_minor: 12900 };
    expect(balanceMinor(paid)).toBe(0);
    expect(isPartlyPaid(paid)).toBe(false);
    expect(balanceMinor({ ...ORDER, paid_minor: 20000 })).toBe(0);
  });
});

describe("the amount field", () => {
  it("defaults to the balance due, which needs no reason", () => {
    expect(defaultAmountText(ORDER)).toBe("129.00");
    expect(defaultAmountText(PARTLY)).toBe("99.00");
    expect(defaultAmountText(YEN)).toBe("150000");
    const check = checkAmount(defaultAmountText(PARTLY), PARTLY);
    expect(check).toEqual({ ok: true, minor: 9900, text: "99.00 EUR", other: false });
    expect(reasonProblem(check, "")).toBeNull();
  });

  it("reads a deposit in integer minor units, and then a reason is required", () => {
    const check = checkAmount("30", ORDER);
    expect(check).toEqual({ ok: true, minor: 3000, text: "30.00 EUR", other: true });
    expect(reasonProblem(check, "")).toMatch(/Say why this amount/);
    expect(reasonProblem(check, "   ")).toMatch(/Say why this amount/);
    expect(reasonProblem(check, "deposit agreed on the phone")).toBeNull();
    // 0.1 + 0.2 style float slips cannot happen: 0.29 is 29 minor units exactly.
    expect(checkAmount("0.29", ORDER)).toMatchObject({ ok: true, minor: 29 });
    expect(checkAmount("30,5", ORDER)).toMatchObject({ ok: true, minor: 3050, text: "30.50 EUR" });
    expect(checkAmount(" 1 00.00 ", ORDER)).toMatchObject({ ok: true, minor: 10000 });
  });

  it("refuses zero in plain words", () => {
    for (const zero of ["0", "0.00", "0,0"]) {
      expect(checkAmount(zero, ORDER)).toEqual({ ok: false, message: "The amount must be more than zero." });
    }
  });

  it("refuses more than the balance due, naming the balance", () => {
    expect(checkAmount("129.01", ORDER)).toEqual({
      ok: false,
      message: "129.01 EUR is more than the balance due (129.00 EUR): charge at most the balance.",
    });
    // After a deposit the balance is the limit, not the order's amount.
    expect(checkAmount("100", PARTLY)).toMatchObject({ ok: false, message: expect.stringContaining("(99.00 EUR)") });
    expect(checkAmount("99999999999999999999", ORDER)).toMatchObject({ ok: false });
  });

  it("refuses what is not an amount, saying what to type", () => {
    expect(checkAmount("", ORDER)).toMatchObject({ ok: false, message: expect.stringContaining("Type the amount") });
    for (const bad of ["12.345", "-5", "ten", "1e3", "12.", "€12"]) {
      const check = checkAmount(bad, ORDER);
      expect(check.ok, bad).toBe(false);
      if (!check.ok) expect(check.message).toContain("at most 2 decimals");
    }
    const yen = checkAmount("1500.5", YEN);
    expect(yen).toMatchObject({ ok: false, message: expect.stringContaining("whole JPY") });
  });

  it("never asks for a reason while the amount itself is wrong", () => {
    expect(reasonProblem(checkAmount("0", ORDER), "")).toBeNull();
  });
});
