// Deposits and balances (issue 12, item 2): what is still due on an order, and the amount an
// operator types in the charge dialog, read into integer minor units (never through a float).
//
// Pure, so every rule is unit-tested. The dialog's amount defaults to the balance due; another
// amount needs a reason (the central also needs the `charge_other_amount` permission and keeps
// the final word on the balance, which another terminal may have reduced meanwhile).
import type { OrderView } from "./bindings";
import { formatMoney } from "./money";

/** What is still due on `order`, in minor units of its currency. */
export function balanceMinor(order: OrderView): number {
  return Math.max(0, order.amount.minor - order.paid_minor);
}

/** Whether part of the order is paid and a balance is still due. */
export function isPartlyPaid(order: OrderView): boolean {
  return order.paid_minor > 0 && balanceMinor(order) > 0;
}

/** "Balance 60.00 of 100.00 EUR" for a partly paid order; `null` when nothing was paid yet. */
export function balanceNote(order: OrderView): string | null {
  if (!isPartlyPaid(order)) return null;
  const { currency, minor } = order.amount;
  const exponent = order.amount_exponent;
  const balance = formatMoney(balanceMinor(order), currency, exponent).replace(` ${currency}`, "");
  return `Balance ${balance} of ${formatMoney(minor, currency, exponent)}`;
}

/** "Paid so far: 40.00 EUR" for a partly paid order; `null` when nothing was paid yet. */
export function paidNote(order: OrderView): string | null {
  if (!isPartlyPaid(order)) return null;
  return `Paid so far: ${formatMoney(order.paid_minor, order.amount.currency, order.amount_exponent)}`;
}

/** The amount field's first value: the balance due without its currency ("60.00"). */
export function defaultAmountText(order: OrderView): string {
  const { currency } = order.amount;
  return formatMoney(balanceMinor(order), currency, order.amount_exponent).replace(` ${currency}`, "");
}

/** What the amount field holds: an amount to charge, or what is wrong with it in plain words. */
export type AmountCheck =
  | {
      ok: true;
      minor: number;
      /** "60.00 EUR" */
      text: string;
      /** Not the balance due: a reason is needed (and the permission, at the central). */
      other: boolean;
    }
  | { ok: false; message: string };

/**
 * Reads what the operator typed ("30", "30.5", "30,50", "1 200.00") as minor units of the order's
 * currency and checks it against the balance due: more than zero, at most the balance, at most as
 * many decimals as the currency has.
 */
export function checkAmount(typed: string, order: OrderView): AmountCheck {
  const { currency } = order.amount;
  const exponent = order.amount_exponent;
  const balance = balanceMinor(order);
  const balanceText = formatMoney(balance, currency, exponent);
  const t = typed.trim().replace(/[\s_']/g, "").replace(",", ".");
  if (t === "") return { ok: false, message: `Type the amount to charge, for example ${defaultAmountText(order)} for the balance due.` };
  const pattern = exponent === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${exponent}})?$`);
  if (!pattern.test(t)) {
    return {
      ok: false,
      message:
        exponent === 0
          ? `“${typed.trim()}” is not an amount: type whole ${currency} (no decimals), for example ${defaultAmountText(order)}.`
          : `“${typed.trim()}” is not an amount: type digits with at most ${exponent} decimals, for example ${defaultAmountText(order)}.`,
    };
  }
  const [whole = "0", fraction = ""] = t.split(".");
  const minor = Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, "0") || "0");
  if (!Number.isSafeInteger(minor)) return { ok: false, message: `That amount is far more than the balance due (${balanceText}).` };
  if (minor === 0) return { ok: false, message: "The amount must be more than zero." };
  if (minor > balance) {
    return {
      ok: false,
      message: `${formatMoney(minor, currency, exponent)} is more than the balance due (${balanceText}): charge at most the balance.`,
    };
  }
  return { ok: true, minor, text: formatMoney(minor, currency, exponent), other: minor !== balance };
}

/** Why the reason field holds what it does not: `null` when the reason is fine or not needed. */
export function reasonProblem(check: AmountCheck, reason: string): string | null {
  if (!check.ok || !check.other) return null;
  if (reason.trim() === "") return "Say why this amount is charged instead of the balance due (for example “deposit agreed on the phone”).";
  return null;
}
