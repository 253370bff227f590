// Words for the journal's integrity and outbox line; pure, so the wording is unit-tested.
import type { JournalStatus } from "./bindings";
import { formatAge } from "./time";

export interface IntegrityLine {
  ok: boolean;
  text: string;
}

/** "Journal verified (12 events)" or, when the hash chain breaks, where and what to do. */
export function integrityLine(status: JournalStatus): IntegrityLine {
  if (status.verified) {
    const events = status.events_checked === 1 ? "1 event" : `${status.events_checked} events`;
    return { ok: true, text: `Journal verified (${events})` };
  }
  const where = status.broken_at_seq === null ? "" : ` at event ${status.broken_at_seq}`;
  return {
    ok: false,
    text: `Journal integrity broken${where}. Stop charging and call your manager.`,
  };
}

/** "Outbox empty" or "3 results waiting to sync, oldest 5 min", plus any parked for a person. */
export function outboxLine(status: JournalStatus): string {
  const parked = status.outbox_parked > 0 ? `; ${status.outbox_parked} set aside for a manager` : "";
  if (status.outbox_depth === 0) return `Outbox empty${parked}`;
  const count = status.outbox_depth === 1 ? "1 result waiting to sync" : `${status.outbox_depth} results waiting to sync`;
  const age = status.outbox_oldest_age_ms === null ? "" : `, oldest ${formatAge(status.outbox_oldest_age_ms)}`;
  return `${count}${age}${parked}`;
}

export interface ConnectionLine {
  online: boolean;
  text: string;
}

/** Online or offline, and what offline means for the operator (the default policy blocks). */
export function connectionLine(online: boolean, embedded: boolean): ConnectionLine {
  if (online) {
    return { online, text: embedded ? "Online (demo central and sandbox gateway)" : "Online" };
  }
  return {
    online,
    text: "Offline: the central server is unreachable. Charging waits until it is back; results are kept and sync later.",
  };
}

/** "Starting… 4 s of at most 60 s": start-up never shows an unbounded spinner. */
export function startingLine(elapsedMs: number, maxMs: number): string {
  const elapsed = Math.max(0, Math.floor(elapsedMs / 1000));
  return `Starting the central server and payment gateway… ${elapsed} s (at most ${Math.round(maxMs / 1000)} s)`;
}
