// Unit tests of the queue's search and keyboard selection.
import { describe, expect, it } from "vitest";
import { amountQuery, clampSelection, matches, moveSelection, plainAmount, search, type Searchable } from "./search";

const ANNA: Searchable = {
  id: "demo-1001",
  customer: "cus_demo_anna",
  description: "Phone order: espresso machine",
  amountMinor: 12_900,
  exponent: 2,
  currency: "EUR",
};
const DORA: Searchable = { ...ANNA, id: "demo-1004", customer: "Dora Kiss", description: "Replacement filter set", amountMinor: 1_999 };
const GABOR: Searchable = { ...ANNA, id: "demo-1007", customer: "cus_demo_gabor", description: "Deposit: conservatory", amountMinor: 150_000 };
const YEN: Searchable = { ...ANNA, id: "demo-3001", customer: "cus_demo_jun", description: "Tea set", amountMinor: 5_400, exponent: 0, currency: "JPY" };
const ALL = [ANNA, DORA, GABOR, YEN];

describe("plainAmount", () => {
  it.each([
    [12_900, 2, "129.00"],
    [5, 2, "0.05"],
    [5_400, 0, "5400"],
    [1_500, 3, "1.500"],
  ])("%i with exponent %i is %s", (minor, exponent, expected) => {
    expect(plainAmount(minor, exponent)).toBe(expected);
  });
});

describe("amountQuery", () => {
  it.each([
    ["129", "129"],
    ["129.00", "129.00"],
    ["19,99", "19.99"],
    ["1,500.00", "1500.00"],
    ["1.500,00", "1500.00"],
    ["1,500", "1500"],
    ["129 EUR", "129"],
    [" 19.9 ", "19.9"],
  ])("%j is the amount %j", (query, expected) => {
    expect(amountQuery(query)).toBe(expected);
  });
  it.each(["anna", "demo-1001", "1.2.3", "", "12a"])("%j is not an amount", (query) => {
    expect(amountQuery(query)).toBeNull();
  });
});

describe("matches", () => {
  it("matches everything on an empty query", () => {
    expect(search(ALL, "  ")).toEqual(ALL);
  });
  it("finds an order by its id, whole or in part", () => {
    expect(search(ALL, "demo-1004")).toEqual([DORA]);
    expect(search(ALL, "1007")).toEqual([GABOR]);
  });
  it("finds an order by customer, case-insensitive, every word", () => {
    expect(search(ALL, "dora")).toEqual([DORA]);
    expect(search(ALL, "DORA kiss")).toEqual([DORA]);
    expect(search(ALL, "dora anna")).toEqual([]);
    expect(search(ALL, "anna")).toEqual([ANNA]);
  });
  it("finds an order by description words", () => {
    expect(search(ALL, "espresso")).toEqual([ANNA]);
  });
  it("finds an order by amount as the operator reads it", () => {
    expect(search(ALL, "129")).toEqual([ANNA]);
    expect(search(ALL, "129.00")).toEqual([ANNA]);
    expect(search(ALL, "19,99")).toEqual([DORA]);
    expect(search(ALL, "1,500.00")).toEqual([GABOR]);
    expect(search(ALL, "5400")).toEqual([YEN]);
  });
  it("does not match an amount in the middle of another", () => {
    // 29 is inside 129.00 but not its start.
    expect(matches(ANNA, "29")).toBe(false);
  });
  it("finds by currency", () => {
    expect(search(ALL, "jpy")).toEqual([YEN]);
  });
});

describe("moveSelection", () => {
  it.each([
    [-1, "ArrowDown", 3, 0],
    [-1, "ArrowUp", 3, 2],
    [0, "ArrowDown", 3, 1],
    [2, "ArrowDown", 3, 2],
    [0, "ArrowUp", 3, 0],
    [1, "Home", 3, 0],
    [0, "End", 3, 2],
    [0, "PageDown", 25, 10],
    [20, "PageDown", 25, 24],
    [15, "PageUp", 25, 5],
  ])("from %i, %s over %i rows selects %i", (index, key, length, expected) => {
    expect(moveSelection(index, key, length)).toBe(expected);
  });
  it("ignores other keys and empty lists", () => {
    expect(moveSelection(0, "a", 3)).toBeNull();
    expect(moveSelection(-1, "ArrowDown", 0)).toBeNull();
  });
  it("keeps the selection in range after the list changed", () => {
    expect(clampSelection(5, 2)).toBe(1);
    expect(clampSelection(-1, 2)).toBe(0);
    expect(clampSelection(3, 0)).toBe(-1);
  });
});
