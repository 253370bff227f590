// Words for the status bar (journal integrity, outbox, connection, start-up) and for the notices after
// "Recover now" and "Sync now"; pure, so the wording is unit-tested.
import type { JournalStatus, RecoveryReport, SyncView } from "./bindings";
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

/**
 * Online or offline, and what offline means for the operator: charging is blocked unless a
 * manager allowed offline charging on this terminal (the default blocks).
 */
export function connectionLine(online: boolean, embedded: boolean): ConnectionLine {
  if (online) {
    return { online, text: embedded ? "Online (demo central and sandbox gateway)" : "Online" };
  }
  return {
    online,
    text: "Offline: the central server is unreachable. Charging is blocked unless a manager allowed offline charging on this terminal; results are kept and sync later.",
  };
}

/** "Starting… 4 s of at most 60 s": start-up never shows an unbounded spinner. */
export function startingLine(elapsedMs: number, maxMs: number): string {
  const elapsed = Math.max(0, Math.floor(elapsedMs / 1000));
  return `Starting the central server and payment gateway… ${elapsed} s (at most ${Math.round(maxMs / 1000)} s)`;
}

/** A one-line banner after a button press: good news, or something that still needs attention. */
export interface Notice {
  tone: "ok" | "attention";
  text: string;
}

/** What "Recover now" did; anything left open or sent to a manager asks for attention. */
export function recoveryNotice(r: RecoveryReport): Notice {
  return {
    tone: r.still_open + r.needs_review + r.errors.length === 0 ? "ok" : "attention",
    text:
      `Recovery: ${r.examined} looked at, ${r.finished} finished, ${r.needs_review} to a manager, ${r.still_open} still open` +
      (r.still_open > 0 ? " (Paydesk keeps trying every 30 s)." : "."),
  };
}

/** What "Sync now" did; results still waiting ask for attention. */
export function syncNotice(s: SyncView): Notice {
  if (s.unreachable) {
    return { tone: "attention", text: `The central is unreachable; ${s.waiting} result(s) stay in the outbox and sync when it is back.` };
  }
  return {
    tone: s.waiting === 0 ? "ok" : "attention",
    text:
      `Sync: ${s.delivered} delivered` +
      (s.parked > 0 ? `, ${s.parked} set aside for a manager` : "") +
      (s.waiting > 0 ? `, ${s.waiting} waiting for their retry time (the background sync sends them).` : "."),
  };
}
