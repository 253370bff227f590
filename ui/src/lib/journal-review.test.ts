import { describe, expect, it } from "vitest";
import { EMPTY_REVIEW_FORM, isFiltered, matchedLine, receiptLine, toSearch } from "./journal-review";

describe("toSearch", () => {
  it("sends only the fields that are filled", () => {
    expect(toSearch(EMPTY_REVIEW_FORM, 0)).toEqual({ filter: {} });
    const s = toSearch({ ...EMPTY_REVIEW_FORM, state: "succeeded", order: " o-1 ", amountMin: "10", text: "pi_" }, 0);
    expect(s).toEqual({ filter: { state: "succeeded", order: "o-1" }, amount_min: "10", text: "pi_" });
  });
  it("counts the end date in full, in local time", () => {
    const s = toSearch({ ...EMPTY_REVIEW_FORM, fromDate: "2026-11-29", toDate: "2026-11-30" }, -300);
    expect(s.filter.from).toBe(Date.UTC(2026, 10, 29) + 300 * 60_000);
    expect(s.filter.to).toBe(Date.UTC(2026, 11, 1) + 300 * 60_000);
  });
});

describe("matchedLine", () => {
  it("says how many match and when the list is cut", () => {
    expect(matchedLine(1, 1, true)).toBe("1 attempt matches the filters.");
    expect(matchedLine(3, 3, false)).toBe("3 attempts in this terminal's journal.");
    expect(matchedLine(1000, 1500, true)).toContain("newest 1000 of 1500");
  });
  it("knows when a field is filled", () => {
    expect(isFiltered(EMPTY_REVIEW_FORM)).toBe(false);
    expect(isFiltered({ ...EMPTY_REVIEW_FORM, text: "x" })).toBe(true);
  });
});

describe("receiptLine", () => {
  const at = Date.UTC(2026, 10, 30, 9, 5, 0);
  it("confirms a matching head and counts what is not sent yet", () => {
    const line = receiptLine({ state: "matches", seq: 5, received_at: at, local_seq: 7 }, 0);
    expect(line.tone).toBe("ok");
    expect(line.text).toContain("up to step 5, received 2026-11-30 09:05:00");
    expect(line.text).toContain("2 newer steps wait");
  });
  it("asks for a person when the central's step differs or is missing here", () => {
    expect(receiptLine({ state: "differs", seq: 5, received_at: at }, 0).tone).toBe("attention");
    const missing = receiptLine({ state: "missing", seq: 9, received_at: at, local_seq: 4 }, 0);
    expect(missing.text).toContain("has only 4 steps");
  });
  it("says plainly when there is nothing to compare", () => {
    expect(receiptLine({ state: "none_yet" }, 0).text).toContain("No receipt");
    expect(receiptLine({ state: "unavailable", message: "Down." }, 0).text).toBe("Down. The check on this terminal above still stands.");
  });
});
