// Formats journal timestamps (milliseconds since the epoch, UTC) for people.
//
// Pure: the caller passes the UTC offset to show, so the tests do not depend on the machine's
// time zone. The UI passes the local offset; the exact UTC instant goes into a tooltip.

const MINUTE_MS = 60_000;

/** The browser's UTC offset in minutes east of UTC at `ms` (Date reports it west, hence the minus). */
export function localOffsetMinutes(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** "2026-11-22 09:39:18" for an instant shown at a UTC offset in minutes (+60 for CET). */
export function formatTimestamp(ms: number, offsetMinutes: number): string {
  if (!Number.isSafeInteger(ms) || !Number.isInteger(offsetMinutes)) {
    throw new RangeError(`not a timestamp: ${ms} at offset ${offsetMinutes}`);
  }
  // Shift the instant and read it back as UTC: the wall-clock time at that offset.
  const d = new Date(ms + offsetMinutes * MINUTE_MS);
  const date = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  return `${date} ${time}`;
}

/** The instant in UTC, as the journal and the core print it: "2026-11-22T08:39:18.123Z". */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** "just now", "5 min", "3 h 20 min", "2 d 4 h": how long something has been waiting. */
export function formatAge(ageMs: number): string {
  const minutes = Math.floor(Math.max(0, ageMs) / MINUTE_MS);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}
