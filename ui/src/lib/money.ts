// Formats money from integer minor units without ever turning it into a float.
//
// The shell sends each amount as {minor, currency} plus the currency's exponent from the core's
// currency table, so the UI keeps no currency table of its own. The output matches the core's
// `Money` Display ("12.34 EUR", "1200 JPY", "0.500 KWD"), so an amount reads the same in the UI,
// the CLI and exports.

/** An amount as the shell serializes it (`paydesk_core::Money`). */
export interface Money {
  minor: number;
  currency: string;
}

/** Currencies have 0 to 3 decimals in ISO 4217 (and in the core's table). */
const EXPONENT_MAX = 4;

/**
 * "12.34 EUR" from (1234, "EUR", 2). Refuses what the core could never have produced (a negative,
 * fractional or unsafe integer, an odd exponent) instead of printing a plausible wrong amount.
 */
export function formatMoney(minor: number, currency: string, exponent: number): string {
  if (!Number.isSafeInteger(minor) || minor < 0) {
    throw new RangeError(`not an amount in minor units: ${minor}`);
  }
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > EXPONENT_MAX) {
    throw new RangeError(`not a currency exponent: ${exponent}`);
  }
  if (!/^[A-Z]{3}$/.test(currency)) {
    throw new RangeError(`not an ISO 4217 currency code: ${currency}`);
  }
  const digits = String(minor);
  if (exponent === 0) return `${digits} ${currency}`;
  // Left-pad so there is at least one digit before the point: 5 cents is "0.05".
  const padded = digits.padStart(exponent + 1, "0");
  const whole = padded.slice(0, padded.length - exponent);
  const fraction = padded.slice(padded.length - exponent);
  return `${whole}.${fraction} ${currency}`;
}
