// The journal review's filter form turned into the shell's search, and the summary line above the
// results. The search itself runs in the shell (`paydesk_terminal::export`), so the list on screen
// and the CSV export match the same attempts.
//
// Pure, so the conversions are unit-tested; the screen is Journal.svelte.
import type { AttemptState, JournalSearch, ReceiptView } from "./bindings";
import { formatTimestamp } from "./time";
import { localDayStartMs } from "./audit";

const DAY_MS = 86_400_000;

export interface ReviewForm {
  state: "" | AttemptState;
  operator: string;
  order: string;
  fromDate: string;
  toDate: string;
  amountMin: string;
  amountMax: string;
  text: string;
}

export const EMPTY_REVIEW_FORM: ReviewForm = {
  state: "",
  operator: "",
  order: "",
  fromDate: "",
  toDate: "",
  amountMin: "",
  amountMax: "",
  text: "",
};

/** The shell's search for the form (empty fields mean "any"). */
export function toSearch(form: ReviewForm, offsetMinutes: number): JournalSearch {
  const filter: JournalSearch["filter"] = {};
  if (form.state) filter.state = form.state;
  if (form.operator.trim()) filter.operator = form.operator.trim();
  if (form.order.trim()) filter.order = form.order.trim();
  const from = form.fromDate ? localDayStartMs(form.fromDate, offsetMinutes) : null;
  const to = form.toDate ? localDayStartMs(form.toDate, offsetMinutes) : null;
  if (from !== null) filter.from = from;
  if (to !== null) filter.to = to + DAY_MS;
  const search: JournalSearch = { filter };
  if (form.amountMin.trim()) search.amount_min = form.amountMin.trim();
  if (form.amountMax.trim()) search.amount_max = form.amountMax.trim();
  if (form.text.trim()) search.text = form.text.trim();
  return search;
}

/** True when any field narrows the search. */
export function isFiltered(form: ReviewForm): boolean {
  return Object.values(form).some((v) => v.trim() !== "");
}

/** "12 attempts match." / "Showing the newest 1000 of 1500 matching attempts; the export writes all." */
export function matchedLine(shown: number, matched: number, filtered: boolean): string {
  if (shown < matched) return `Showing the newest ${shown} of ${matched} matching attempts; the export writes all of them.`;
  const noun = matched === 1 ? "attempt" : "attempts";
  return filtered
    ? `${matched} ${noun} ${matched === 1 ? "matches" : "match"} the filters.`
    : `${matched} ${noun} in this terminal's journal.`;
}

/** The central's receipt in one sentence, and whether it needs a person's attention. */
export function receiptLine(r: ReceiptView, offsetMinutes: number): { tone: "ok" | "attention" | "neutral"; text: string } {
  switch (r.state) {
    case "matches": {
      const pending = r.local_seq - r.seq;
      const tail =
        pending > 0 ? ` ${pending} newer ${pending === 1 ? "step waits" : "steps wait"} to be sent with the next result.` : "";
      return {
        tone: "ok",
        text: `The central's receipt matches: it holds this journal up to step ${r.seq}, received ${formatTimestamp(r.received_at, offsetMinutes)}, and that step is the same here.${tail}`,
      };
    }
    case "differs":
      return {
        tone: "attention",
        text: `The central's receipt does not match: step ${r.seq}, received ${formatTimestamp(r.received_at, offsetMinutes)}, is different in this journal, so the journal was changed after it was sent. Stop charging on this terminal and call your manager.`,
      };
    case "missing":
      return {
        tone: "attention",
        text: `The central received step ${r.seq} of this journal on ${formatTimestamp(r.received_at, offsetMinutes)}, but this journal has only ${r.local_seq} steps: it was replaced or cut short. Stop charging on this terminal and call your manager.`,
      };
    case "none_yet":
      return { tone: "neutral", text: "No receipt from the central yet: this terminal has not delivered a result." };
    case "unavailable":
      return { tone: "neutral", text: `${r.message} The check on this terminal above still stands.` };
  }
}
