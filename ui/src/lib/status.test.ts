// Unit tests of the journal integrity and outbox wording.
import { describe, expect, it } from "vitest";
import type { JournalStatus } from "./bindings";
import { connectionLine, integrityLine, outboxLine, recoveryNotice, startingLine, syncNotice } from "./status";

const HEALTHY: JournalStatus = {
  path: "/tmp/journal.sqlite",
  verified: true,
  broken_at_seq: null,
  broken_kind: null,
  events_checked: 12,
  outbox_depth: 0,
  outbox_parked: 0,
  outbox_oldest_age_ms: null,
};

describe("integrityLine", () => {
  it("says verified with the number of events", () => {
    expect(integrityLine(HEALTHY)).toEqual({ ok: true, text: "Journal verified (12 events)" });
    expect(integrityLine({ ...HEALTHY, events_checked: 1 }).text).toBe("Journal verified (1 event)");
  });
  it("says where the chain breaks and what to do", () => {
    expect(integrityLine({ ...HEALTHY, verified: false, broken_at_seq: 7, broken_kind: "hash_mismatch" })).toEqual({
      ok: false,
      text: "Journal integrity broken at event 7. Stop charging and call your manager.",
    });
    expect(integrityLine({ ...HEALTHY, verified: false, broken_kind: "missing_history" }).text).toBe(
      "Journal integrity broken. Stop charging and call your manager.",
    );
  });
});

describe("outboxLine", () => {
  it("says empty, or how much waits and for how long", () => {
    expect(outboxLine(HEALTHY)).toBe("Outbox empty");
    expect(outboxLine({ ...HEALTHY, outbox_depth: 1, outbox_oldest_age_ms: 30_000 })).toBe(
      "1 result waiting to sync, oldest just now",
    );
    expect(outboxLine({ ...HEALTHY, outbox_depth: 3, outbox_oldest_age_ms: 5 * 60_000 })).toBe(
      "3 results waiting to sync, oldest 5 min",
    );
  });
  it("mentions results set aside for a manager", () => {
    expect(outboxLine({ ...HEALTHY, outbox_parked: 2 })).toBe("Outbox empty; 2 set aside for a manager");
    expect(outboxLine({ ...HEALTHY, outbox_depth: 1, outbox_oldest_age_ms: null, outbox_parked: 1 })).toBe(
      "1 result waiting to sync; 1 set aside for a manager",
    );
  });
});

describe("connectionLine", () => {
  it("says online, and that the demo runs on the sandbox", () => {
    expect(connectionLine(true, false)).toEqual({ online: true, text: "Online" });
    expect(connectionLine(true, true).text).toMatch(/sandbox/);
  });
  it("says what offline means for the operator", () => {
    const line = connectionLine(false, true);
    expect(line.online).toBe(false);
    expect(line.text).toMatch(/^Offline/);
    expect(line.text).toMatch(/sync later/);
  });
});

describe("startingLine", () => {
  it("always shows the bound", () => {
    expect(startingLine(4_200, 60_000)).toMatch(/4 s \(at most 60 s\)/);
  });
});

describe("recoveryNotice", () => {
  it("is good news only when nothing is left open, for a manager or in error", () => {
    const done = { examined: 2, finished: 2, needs_review: 0, still_open: 0, errors: [] };
    expect(recoveryNotice(done)).toEqual({ tone: "ok", text: "Recovery: 2 looked at, 2 finished, 0 to a manager, 0 still open." });
    expect(recoveryNotice({ ...done, finished: 1, needs_review: 1 }).tone).toBe("attention");
    expect(recoveryNotice({ ...done, errors: ["central unreachable"] }).tone).toBe("attention");
  });
  it("says that open attempts are retried", () => {
    const open = recoveryNotice({ examined: 1, finished: 0, needs_review: 0, still_open: 1, errors: [] });
    expect(open).toMatchObject({ tone: "attention" });
    expect(open.text).toMatch(/keeps trying every 30 s/);
  });
});

describe("syncNotice", () => {
  it("says what was delivered, set aside and still waiting", () => {
    expect(syncNotice({ delivered: 3, parked: 0, waiting: 0, unreachable: false })).toEqual({ tone: "ok", text: "Sync: 3 delivered." });
    const partial = syncNotice({ delivered: 1, parked: 1, waiting: 2, unreachable: false });
    expect(partial.tone).toBe("attention");
    expect(partial.text).toBe(
      "Sync: 1 delivered, 1 set aside for a manager, 2 waiting for their retry time (the background sync sends them).",
    );
  });
  it("says results stay in the outbox while the central is unreachable", () => {
    expect(syncNotice({ delivered: 0, parked: 0, waiting: 4, unreachable: true })).toMatchObject({
      tone: "attention",
      text: "The central is unreachable; 4 result(s) stay in the outbox and sync when it is back.",
    });
  });
});
