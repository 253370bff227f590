// Unit tests of the large-amount confirmation.
import { describe, expect, it } from "vitest";
import { LARGE_AMOUNT_MAJOR, lastTwoDigits, needsRetype, retypeMatches, retypePrompt } from "./confirm";

describe("needsRetype", () => {
  it("starts at the threshold, in whole units of the currency", () => {
    expect(LARGE_AMOUNT_MAJOR).toBe(1_000);
    expect(needsRetype(99_999, 2, "EUR")).toBe(false);
    expect(needsRetype(100_000, 2, "EUR")).toBe(true);
    expect(needsRetype(150_000, 2, "EUR")).toBe(true);
    expect(needsRetype(89_000, 2, "EUR")).toBe(false);
  });
  it("uses a higher threshold for currencies with small units", () => {
    expect(needsRetype(5_400, 0, "JPY")).toBe(false);
    expect(needsRetype(100_000, 0, "JPY")).toBe(true);
  });
});

describe("lastTwoDigits", () => {
  it.each([
    [150_000, 2, "00"],
    [123_456, 2, "34"],
    [100_500, 2, "05"],
    [123_456, 0, "56"],
    [1_234_567, 3, "34"],
  ])("%i with exponent %i is %s", (minor, exponent, expected) => {
    expect(lastTwoDigits(minor, exponent)).toBe(expected);
  });
});

describe("retypeMatches", () => {
  it("accepts exactly the two digits, spaces aside", () => {
    expect(retypeMatches("34", 123_456, 2)).toBe(true);
    expect(retypeMatches(" 3 4 ", 123_456, 2)).toBe(true);
    expect(retypeMatches("56", 123_456, 2)).toBe(false);
    expect(retypeMatches("4", 123_456, 2)).toBe(false);
    expect(retypeMatches("", 150_000, 2)).toBe(false);
  });
});

it("names the threshold in the dialog", () => {
  expect(retypePrompt("1500.00 EUR", "EUR")).toContain("1,000 EUR or more");
});
