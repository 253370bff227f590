// The navigation's keys: an operator's stop at 2, a manager's go to 8.
import { describe, expect, it } from "vitest";
import { MANAGER_VIEWS, viewForKey } from "./views";

describe("viewForKey", () => {
  it("gives everyone the queue and the journal", () => {
    expect(viewForKey("1", false)).toBe("queue");
    expect(viewForKey("2", false)).toBe("journal");
  });
  it("gives an operator no manager view", () => {
    expect(viewForKey("3", false)).toBeNull();
  });
  it("gives a manager every manager view, one key each", () => {
    expect(MANAGER_VIEWS.map((v) => viewForKey(v.key, true))).toEqual(MANAGER_VIEWS.map((v) => v.view));
    expect(new Set(MANAGER_VIEWS.map((v) => v.key)).size).toBe(MANAGER_VIEWS.length);
    expect(viewForKey("9", true)).toBeNull();
  });
});
