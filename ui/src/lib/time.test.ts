// Unit tests of timestamp formatting at explicit UTC offsets (independent of the machine's zone).
import { describe, expect, it } from "vitest";
import { formatAge, formatTimestamp, formatUtc } from "./time";

// 2026-11-22T08:39:18.123Z, the instant the core's own tests use.
const INSTANT_MS = 1_795_336_758_123;

describe("formatTimestamp", () => {
  it("shows UTC at offset 0", () => {
    expect(formatTimestamp(INSTANT_MS, 0)).toBe("2026-11-22 08:39:18");
  });
  it("shifts to the given offset, across midnight too", () => {
    expect(formatTimestamp(INSTANT_MS, 60)).toBe("2026-11-22 09:39:18");
    expect(formatTimestamp(INSTANT_MS, -9 * 60)).toBe("2026-11-21 23:39:18");
    expect(formatTimestamp(INSTANT_MS, 5 * 60 + 30)).toBe("2026-11-22 14:09:18");
  });
  it("handles the epoch and leap days", () => {
    expect(formatTimestamp(0, 0)).toBe("1970-01-01 00:00:00");
    expect(formatTimestamp(951_782_400_000, 0)).toBe("2000-02-29 00:00:00");
  });
  it("refuses what is not a timestamp", () => {
    expect(() => formatTimestamp(Number.NaN, 0)).toThrow(RangeError);
    expect(() => formatTimestamp(1.5, 0)).toThrow(RangeError);
  });
});

describe("formatUtc", () => {
  it("matches the core's RFC 3339 form", () => {
    expect(formatUtc(INSTANT_MS)).toBe("2026-11-22T08:39:18.123Z");
  });
});

describe("formatAge", () => {
  it.each([
    [-5, "just now"],
    [59_999, "just now"],
    [60_000, "1 min"],
    [59 * 60_000, "59 min"],
    [3 * 3_600_000, "3 h"],
    [3 * 3_600_000 + 20 * 60_000, "3 h 20 min"],
    [48 * 3_600_000, "2 d"],
    [52 * 3_600_000, "2 d 4 h"],
  ])("%i ms is %s", (ms, expected) => {
    expect(formatAge(ms)).toBe(expected);
  });
});
