// The receipt after a successful charge: the reference a customer can quote on the phone (the
// gateway's payment id and Paydesk's attempt id), the text the copy button puts on the clipboard,
// and the lines of the printable receipt.
//
// Pure and unit-tested. Deliberately absent: anything not in the journal's attempt (no card
// number, never; the card is named only by what the order shows, brand and last 4).
import type { AttemptView } from "./bindings";
import { formatMoney } from "./money";
import { formatTimestamp } from "./time";

export interface Receipt {
  /** "pi_… / 01J…": what the customer quotes; both ids find the payment. */
  reference: string;
  gatewayId: string | null;
  attemptId: string;
  /** Label and value pairs for the printable receipt, in reading order. */
  lines: { label: string; value: string }[];
}

/**
 * The receipt of a succeeded attempt; `extra` adds lines the order knows (customer, card),
 * `offsetMinutes` is the UTC offset the time is printed in.
 */
export function receiptOf(
  attempt: AttemptView,
  description: string,
  extra: { label: string; value: string }[],
  offsetMinutes: number,
): Receipt {
  if (attempt.state !== "succeeded") throw new Error(`no receipt for a ${attempt.state} attempt`);
  const amount = formatMoney(attempt.amount.minor, attempt.amount.currency, attempt.amount_exponent);
  const gatewayId = attempt.intent_id;
  const reference = gatewayId ? `${gatewayId} / ${attempt.id}` : attempt.id;
  return {
    reference,
    gatewayId,
    attemptId: attempt.id,
    lines: [
      { label: "Order", value: attempt.order },
      { label: "For", value: description },
      ...extra,
      { label: "Amount charged", value: amount },
      { label: "Date", value: formatTimestamp(attempt.updated_at, offsetMinutes) },
      { label: "Payment id (gateway)", value: gatewayId ?? "not given by the gateway" },
      { label: "Paydesk attempt", value: attempt.id },
      { label: "Taken by", value: `${attempt.operator} on terminal ${attempt.terminal}` },
    ],
  };
}

/** What the copy button copies: one line the operator can paste into an e-mail or a ticket. */
export function copyText(receipt: Receipt, amount: string): string {
  return `Payment of ${amount} for order ${receipt.lines[0]?.value ?? ""}, reference ${receipt.reference}`;
}
