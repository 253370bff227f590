// The large-amount confirmation: above a threshold the operator re-types the last two digits of
// the amount before the charge button works, so a misread or a wrong order is caught before money
// moves.
//
// Pure and unit-tested. The threshold is a constant per currency, shown in the dialog itself
// ("1,000.00 EUR or more"); it is a typing check, not a permission — the central's limits and the
// manager's approval threshold are separate and enforced there.

/**
 * Amounts at or above this many whole units of their currency need the re-type. 1,000 is where
 * the demo's and our operators' orders turn from everyday (espresso machines, filters) into
 * deposits and refits, and a slip of one digit costs a refund and a phone call.
 */
export const LARGE_AMOUNT_MAJOR = 1_000;
/** Currencies whose unit is small enough that 1,000 of them is everyday money. */
const LARGE_AMOUNT_MAJOR_BY_CURRENCY: Record<string, number> = { JPY: 100_000, KRW: 1_000_000, HUF: 300_000 };

/** The threshold for `currency`, in whole units. */
export function largeAmountMajor(currency: string): number {
  return LARGE_AMOUNT_MAJOR_BY_CURRENCY[currency] ?? LARGE_AMOUNT_MAJOR;
}

/** Whether (minor, exponent, currency) needs the re-type. */
export function needsRetype(minor: number, exponent: number, currency: string): boolean {
  return minor >= largeAmountMajor(currency) * 10 ** exponent;
}

/**
 * The two digits to re-type: the last two of the whole units ("1,500.00" → "00", "1,234.56" →
 * "34"). Whole units, not cents: the costly slips are in the whole part.
 */
export function lastTwoDigits(minor: number, exponent: number): string {
  const whole = Math.floor(minor / 10 ** exponent);
  return String(whole % 100).padStart(2, "0");
}

/** Whether what the operator typed confirms the amount (spaces ignored). */
export function retypeMatches(typed: string, minor: number, exponent: number): boolean {
  return typed.replace(/\s+/g, "") === lastTwoDigits(minor, exponent);
}

/** The sentence that explains the rule in the dialog. */
export function retypePrompt(formattedAmount: string, currency: string): string {
  return `Amounts of ${largeAmountMajor(currency).toLocaleString("en-US")} ${currency} or more are confirmed by typing the last two digits of the whole amount (${formattedAmount}).`;
}
