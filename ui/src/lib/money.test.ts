// Unit tests of minor-unit money formatting: the decimals come from the exponent, never a float.
import { describe, expect, it } from "vitest";
import { formatMoney } from "./money";

describe("formatMoney", () => {
  it.each([
    [1234, "EUR", 2, "12.34 EUR"],
    [5, "EUR", 2, "0.05 EUR"],
    [0, "USD", 2, "0.00 USD"],
    [100, "GBP", 2, "1.00 GBP"],
    [1200, "JPY", 0, "1200 JPY"],
    [0, "JPY", 0, "0 JPY"],
    [500, "KWD", 3, "0.500 KWD"],
    [1234567, "BHD", 3, "1234.567 BHD"],
    // The core's largest amount; a float would already be fine here, string ops stay exact anyway.
    [999_999_999_999, "EUR", 2, "9999999999.99 EUR"],
    // 0.1 + 0.2 style trouble cannot happen: 30 minor units are exactly "0.30".
    [30, "EUR", 2, "0.30 EUR"],
  ])("%i %s (exponent %i) is %s", (minor, currency, exponent, expected) => {
    expect(formatMoney(minor, currency, exponent)).toBe(expected);
  });

  it.each([
    [-1, "EUR", 2],
    [12.5, "EUR", 2],
    [Number.MAX_SAFE_INTEGER + 1, "EUR", 2],
    [Number.NaN, "EUR", 2],
    [100, "EUR", -1],
    [100, "EUR", 1.5],
    [100, "EUR", 9],
    [100, "eur", 2],
    [100, "", 2],
  ])("refuses %s %s with exponent %s", (minor, currency, exponent) => {
    expect(() => formatMoney(minor, currency, exponent)).toThrow(RangeError);
  });
});
