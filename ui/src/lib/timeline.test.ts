// Unit tests of the timeline's lines.
import { describe, expect, it } from "vitest";
import { timelineLines } from "./timeline";

describe("timelineLines", () => {
  it("words each event and its states", () => {
    const lines = timelineLines(
      [
        { seq: 1, attempt_id: "a", at: 1_795_336_758_123, kind: "begun", from_state: null, to_state: "intent", detail: {}, hash: "0123456789abcdef" },
        { seq: 2, attempt_id: "a", at: 1_795_336_759_000, kind: "create_answered", from_state: "intent", to_state: "created", detail: {}, hash: "fedcba9876543210" },
        { seq: 3, attempt_id: "a", at: 1_795_336_760_000, kind: "brand_new", from_state: "created", to_state: "created", detail: {}, hash: "00" },
      ],
      0,
    );
    expect(lines[0]).toEqual({ seq: 1, at: "2026-11-22 08:39:18", what: "Attempt journaled", states: "Starting", hash: "0123456789ab" });
    expect(lines[1]!.states).toBe("Starting → Intent created");
    expect(lines[2]!.what).toBe("brand new");
  });

  it("words a manager's actions on a parked result and the upgrade's seal", () => {
    const event = (seq: number, kind: string) => ({
      seq, attempt_id: "a", at: 1_795_336_758_123, kind, from_state: "succeeded" as const,
      to_state: "succeeded" as const, detail: {}, hash: "00",
    });
    const what = timelineLines([event(1, "sealed"), event(2, "outbox_retried"), event(3, "outbox_archived")], 0)
      .map((l) => l.what);
    expect(what).toEqual([
      "Sealed when the journal was upgraded",
      "Result sent again by a manager",
      "Result archived by a manager",
    ]);
  });

  it("words a receipt given to the customer: how and by whom", () => {
    const event = (seq: number, detail: unknown) => ({
      seq, attempt_id: "a", at: 1_795_336_758_123, kind: "receipt_given", from_state: "succeeded" as const,
      to_state: "succeeded" as const, detail, hash: "00",
    });
    const what = timelineLines(
      [event(1, { how: "copied", by: "op-anna" }), event(2, { how: "printed", by: "op-anna" }), event(3, {})],
      0,
    ).map((l) => l.what);
    expect(what).toEqual([
      "Receipt copied for the customer by op-anna",
      "Receipt printed for the customer by op-anna",
      "Receipt given to the customer",
    ]);
  });
});
