// The audit log as a manager reads it: each entry's kind in words, who did it and who approved it,
// and the filter form turned into the shell's query (local calendar days to UTC instants).
//
// Pure, so the wording and the date arithmetic are unit-tested; the screen is Audit.svelte.
import type { AuditEntryView, AuditQuery } from "./bindings";
import { formatMoney } from "./money";

const DAY_MS = 86_400_000;

/** The kinds the central writes, in words. */
const KINDS: Record<string, string> = {
  signed_in: "Signed in",
  signed_out: "Signed out",
  pin_wrong: "Wrong PIN",
  locked: "Sign-in locked after wrong PINs",
  rate_limited: "Too many attempts from one terminal",
  forbidden: "Refused: not allowed for this person's role",
  admin_401: "Administrator key refused",
  token_revoked: "Terminal credentials revoked",
  allowance_granted: "Offline charging allowed",
  allowance_withdrawn: "Offline charging withdrawn",
  stale_token: "Refused: the order was taken over by another terminal",
  day_signed_off: "Day signed off",
  approval_granted: "Second manager approved",
  approval_refused: "Approval refused",
  reversal_refused: "Refund or cancel refused",
  setting_changed: "Setting changed",
  claim_claimed: "Took an order to charge",
  claim_released: "Gave an order back uncharged",
  claim_swept: "An order's hold ran out and was released",
  claim_result: "An order's hold ended with its payment result",
  // Decisions a terminal carries out, recorded at the central first (issue 11).
  resolution_retry: "Manager retried an attempt with its own keys",
  resolution_archive_result: "Manager archived a result the central refused",
  // The duplicate guard and the card networks' reattempt limits (issue 12): each time a claim
  // was refused — or, for a similar payment, charged after the operator confirmed it.
  guard_held: "Duplicate guard: another terminal was charging the order",
  guard_paid: "Duplicate guard: the order was already paid",
  guard_outcome_unknown: "Duplicate guard: an earlier attempt's outcome was not known yet",
  guard_similar_payment: "Duplicate guard: the same customer paid the same amount on another order",
  guard_reattempt_limit: "Card reattempt limit reached (card network rules)",
  guard_do_not_retry: "Card must not be retried (the bank said do not retry)",
};

/** Kinds the central builds from a prefix and a detail (`result_succeeded`, `claim_released`). */
const PREFIXES: [string, string][] = [
  ["result_", "Payment result"],
  ["claim_", "Order claim"],
  ["reversal_", "Refund or cancel"],
  ["resolution_", "Manager's resolution"],
  ["guard_", "Duplicate guard"],
];

/** A kind in words; one this list does not know is shown with spaces for underscores. */
export function kindLabel(kind: string): string {
  const known = KINDS[kind];
  if (known) return known;
  for (const [prefix, words] of PREFIXES) {
    if (kind.startsWith(prefix)) return `${words}: ${kind.slice(prefix.length).replaceAll("_", " ")}`;
  }
  return kind.replaceAll("_", " ");
}

/** "ann", "ann (approved by bob)", or "—" when no person is named. */
export function whoText(e: AuditEntryView): string {
  const who = e.operator_id ?? "—";
  return e.approver && e.approver !== e.operator_id ? `${who} (approved by ${e.approver})` : who;
}

/** The entry's amount, or "" when it has none. */
export function entryAmount(e: AuditEntryView): string {
  if (e.amount_minor === null || e.currency === null) return "";
  if (e.amount_exponent === null || e.amount_minor < 0) return `${e.amount_minor} ${e.currency} (minor units)`;
  return formatMoney(e.amount_minor, e.currency, e.amount_exponent);
}

/** What the filter form holds: local dates (YYYY-MM-DD, "" for none) and plain words. */
export interface AuditForm {
  fromDate: string;
  toDate: string;
  operator: string;
  terminal: string;
  kind: string;
  outcome: "" | "done" | "refused";
}

export const EMPTY_AUDIT_FORM: AuditForm = { fromDate: "", toDate: "", operator: "", terminal: "", kind: "", outcome: "" };

/** Midnight at the start of local date `date` (YYYY-MM-DD) at `offsetMinutes` east of UTC. */
export function localDayStartMs(date: string, offsetMinutes: number): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(utc).toISOString().slice(0, 10) !== date) return null;
  return utc - offsetMinutes * 60_000;
}

/** The shell's query for the form: `toDate` counts in full (up to the next midnight). */
export function toAuditQuery(form: AuditForm, offsetMinutes: number): AuditQuery {
  const query: AuditQuery = {};
  const from = form.fromDate ? localDayStartMs(form.fromDate, offsetMinutes) : null;
  const to = form.toDate ? localDayStartMs(form.toDate, offsetMinutes) : null;
  if (from !== null) query.from_ms = from;
  if (to !== null) query.to_ms = to + DAY_MS;
  if (form.operator.trim()) query.operator = form.operator.trim();
  if (form.terminal.trim()) query.terminal = form.terminal.trim();
  if (form.kind.trim()) query.kind = form.kind.trim();
  if (form.outcome) query.outcome = form.outcome;
  return query;
}
