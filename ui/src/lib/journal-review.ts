// The journal review's filter form turned into the shell's search, and the summary line above the
// results. The search itself runs in the shell (`paydesk_terminal::export`), so the list on screen
// and the CSV export match the same attempts.
//
// Pure, so the conversions are unit-tested; the screen is Journal.svelte.
import type { AttemptState, JournalSearch } from "./bindings";
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
