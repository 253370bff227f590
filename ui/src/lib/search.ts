// The queue's search (`/` focuses it) and its keyboard selection: which orders match what the
// operator typed, and where the arrow keys move the selection.
//
// Pure, so every rule is unit-tested. Deliberately absent: the DOM (Queue.svelte binds the keys)
// and any fuzzy ranking — an operator on the phone reads out an order number, a name or an amount,
// and the queue keeps its own order; search only narrows it.

/** What a queue row offers to the search. */
export interface Searchable {
  /** The order id, e.g. "demo-1001". */
  id: string;
  /** The customer's name when the order carries one, else its customer id. */
  customer: string;
  description: string;
  /** The amount in minor units and its currency exponent (never a float). */
  amountMinor: number;
  exponent: number;
  currency: string;
}

/** "129.00" from (12900, 2): the amount as typed, without thousands separators or currency. */
export function plainAmount(minor: number, exponent: number): string {
  const digits = String(minor);
  if (exponent === 0) return digits;
  const padded = digits.padStart(exponent + 1, "0");
  return `${padded.slice(0, padded.length - exponent)}.${padded.slice(padded.length - exponent)}`;
}

/**
 * The amount part of a query, normalized: "1,500.00" → "1500.00", "19,99" → "19.99", "129" →
 * "129". `null` when the query is not an amount (letters, or more than one decimal mark).
 */
export function amountQuery(query: string): string | null {
  let q = query.trim().replace(/\s+/g, "");
  // A currency code typed after the amount ("129 EUR") is allowed and ignored here.
  q = q.replace(/[A-Za-z]{3}$/, "");
  if (!/^\d[\d.,]*$/.test(q)) return null;
  // "1,500.00" or "1.500,00": the last mark followed by 1-3 digits at the end is the decimal
  // mark when the other mark also appears; a lone "," followed by two digits is a decimal comma.
  const lastDot = q.lastIndexOf(".");
  const lastComma = q.lastIndexOf(",");
  let decimal: string | null = null;
  if (lastDot >= 0 && lastComma >= 0) decimal = lastDot > lastComma ? "." : ",";
  else if (lastComma >= 0) decimal = /,\d{1,2}$/.test(q) && q.indexOf(",") === lastComma ? "," : null;
  else if (lastDot >= 0) decimal = q.indexOf(".") === lastDot ? "." : null;
  const thousands = decimal === "." ? "," : decimal === "," ? "." : /[.,]/;
  const whole = decimal === null ? q : q.slice(0, q.lastIndexOf(decimal));
  const fraction = decimal === null ? null : q.slice(q.lastIndexOf(decimal) + 1);
  // Thousands separators group three digits ("1,500"); anything else ("1.2.3") is not an amount.
  if (/[.,]/.test(whole) && !/^\d{1,3}([.,]\d{3})+$/.test(whole)) return null;
  const cleanWhole = whole.split(thousands).join("");
  if (!/^\d+$/.test(cleanWhole) || (fraction !== null && !/^\d*$/.test(fraction))) return null;
  return fraction === null ? cleanWhole : `${cleanWhole}.${fraction}`;
}

/**
 * Whether `item` matches `query`: an empty query matches everything; an amount matches orders
 * whose amount starts with it ("129" finds 129.00, "19.9" finds 19.99); words match the order
 * id, the customer and the description (every word somewhere, case-insensitive).
 */
export function matches(item: Searchable, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === "") return true;
  const amount = amountQuery(q);
  if (amount !== null) {
    const plain = plainAmount(item.amountMinor, item.exponent);
    if (plain.startsWith(amount)) return true;
    // "1001" is also the end of an order id ("demo-1001"): numbers match ids too.
    if (item.id.toLowerCase().includes(q)) return true;
    return false;
  }
  const haystack = `${item.id} ${item.customer} ${item.description} ${item.currency}`.toLowerCase();
  return q.split(/\s+/).every((word) => haystack.includes(word));
}

/** The items matching `query`, in queue order. */
export function search<T extends Searchable>(items: T[], query: string): T[] {
  return items.filter((item) => matches(item, query));
}

/**
 * The selection after `key` over a list of `length` rows: ArrowDown/ArrowUp move by one and stop
 * at the ends, Home/End jump, PageDown/PageUp move by ten. Nothing selected (-1) and ArrowDown
 * selects the first row; ArrowUp the last. `null`: the key does not move the selection.
 */
export function moveSelection(index: number, key: string, length: number): number | null {
  if (length === 0) return null;
  const last = length - 1;
  const page = 10;
  switch (key) {
    case "ArrowDown":
      return index < 0 ? 0 : Math.min(index + 1, last);
    case "ArrowUp":
      return index < 0 ? last : Math.max(index - 1, 0);
    case "Home":
      return 0;
    case "End":
      return last;
    case "PageDown":
      return index < 0 ? Math.min(page - 1, last) : Math.min(index + page, last);
    case "PageUp":
      return index < 0 ? 0 : Math.max(index - page, 0);
    default:
      return null;
  }
}

/** The selection kept in range after the list changed (a new search, a reload). */
export function clampSelection(index: number, length: number): number {
  if (length === 0) return -1;
  if (index < 0) return 0;
  return Math.min(index, length - 1);
}
