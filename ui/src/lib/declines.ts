// A declined charge in plain words: what the issuer said, what to tell the customer, and whether
// the card may be tried again and when — from the gateway's decline code and advice code
// (Stripe's `decline_code` and `advice_code`; PayPal's reasons fall back to the generic text).
//
// Pure and unit-tested. Deliberately absent: counting reattempts. The card networks' limits
// (Visa 15 in 30 days, Mastercard 10 in 24 hours and 35 in 30 days) are counted by the central
// across every operator; this module only says the rule, and never promises a retry the codes
// forbid.

/** What may happen next with this card. */
export type RetryRule =
  /** Never again on this card: the issuer or the network forbids it (a "do not try again" code). */
  | "never"
  /** Only after the customer gives corrected or new card details. */
  | "after_new_details"
  /** Only after the customer has authenticated (3-D Secure): send them a payment link. */
  | "after_customer_action"
  /** Later, within the card network's reattempt limits. */
  | "later";

export interface DeclineAdvice {
  /** The code as the gateway sent it (shown small, for support). */
  code: string;
  /** What happened, in one plain sentence. */
  meaning: string;
  /** What to tell or ask the customer. */
  tellCustomer: string;
  retry: RetryRule;
  /** "Retry: …" — whether and when, in words. */
  retryText: string;
}

interface Entry {
  meaning: string;
  tellCustomer: string;
  retry: RetryRule;
  /** For `later`: when a retry makes sense. */
  when?: string;
}

const ASK_OTHER = "Ask the customer for another payment method.";
const CONTACT_BANK = "Ask the customer to call their bank, then use another payment method.";

/**
 * Stripe's decline codes (https://docs.stripe.com/declines/codes) that change the advice. Codes
 * for lost, stolen or closed cards are the networks' "never retry" category (Visa category 1,
 * Mastercard advice 03/21).
 */
const CODES: Record<string, Entry> = {
  insufficient_funds: {
    meaning: "The card does not have enough funds for this amount.",
    tellCustomer: "Tell the customer the bank refused for lack of funds; they may pay later or use another card.",
    retry: "later",
    when: "once the customer says the funds are there (not the same day without their word)",
  },
  card_velocity_exceeded: {
    meaning: "The card has reached its spending or transaction limit.",
    tellCustomer: "Ask the customer to raise the limit with their bank or use another card.",
    retry: "later",
    when: "after the customer has spoken to their bank",
  },
  withdrawal_count_limit_exceeded: {
    meaning: "The card has reached its limit of transactions.",
    tellCustomer: "Ask the customer to use another card or wait for the limit to reset.",
    retry: "later",
    when: "after the limit resets (usually the next day)",
  },
  processing_error: {
    meaning: "The card network had a processing error; the card itself was not refused.",
    tellCustomer: "Nothing for the customer to do yet.",
    retry: "later",
    when: "in a few minutes",
  },
  try_again_later: {
    meaning: "The issuer asked to try again later.",
    tellCustomer: "Nothing for the customer to do yet.",
    retry: "later",
    when: "in an hour or more",
  },
  issuer_not_available: {
    meaning: "The customer's bank could not be reached.",
    tellCustomer: "Nothing for the customer to do yet.",
    retry: "later",
    when: "in a few minutes",
  },
  reenter_transaction: {
    meaning: "The issuer could not process the charge and asked for it again.",
    tellCustomer: "Nothing for the customer to do yet.",
    retry: "later",
    when: "in a few minutes",
  },
  generic_decline: {
    meaning: "The bank declined the card without giving a reason.",
    tellCustomer: CONTACT_BANK,
    retry: "later",
    when: "only after the customer has spoken to their bank",
  },
  do_not_honor: {
    meaning: "The bank declined the card without giving a reason.",
    tellCustomer: CONTACT_BANK,
    retry: "later",
    when: "only after the customer has spoken to their bank",
  },
  call_issuer: {
    meaning: "The bank wants the customer to call them.",
    tellCustomer: CONTACT_BANK,
    retry: "later",
    when: "only after the customer has spoken to their bank",
  },
  card_declined: {
    meaning: "The card was declined.",
    tellCustomer: CONTACT_BANK,
    retry: "later",
    when: "only after the customer has spoken to their bank",
  },
  expired_card: {
    meaning: "The card has expired.",
    tellCustomer: "Ask the customer for a current card (a new expiry date means new card details).",
    retry: "after_new_details",
  },
  incorrect_cvc: {
    meaning: "The card's security code (CVC) is wrong.",
    tellCustomer: "The saved card's details need correcting: send the customer a payment link.",
    retry: "after_new_details",
  },
  invalid_cvc: {
    meaning: "The card's security code (CVC) is not valid.",
    tellCustomer: "The saved card's details need correcting: send the customer a payment link.",
    retry: "after_new_details",
  },
  incorrect_number: {
    meaning: "The card number is wrong.",
    tellCustomer: "The saved card's details need correcting: send the customer a payment link.",
    retry: "after_new_details",
  },
  invalid_expiry_month: {
    meaning: "The card's expiry month is not valid.",
    tellCustomer: "The saved card's details need correcting: send the customer a payment link.",
    retry: "after_new_details",
  },
  invalid_expiry_year: {
    meaning: "The card's expiry year is not valid.",
    tellCustomer: "The saved card's details need correcting: send the customer a payment link.",
    retry: "after_new_details",
  },
  authentication_required: {
    meaning: "The bank requires the customer to authenticate this payment (3-D Secure).",
    tellCustomer: "Send the customer a payment link to authenticate; no money moved.",
    retry: "after_customer_action",
  },
  lost_card: {
    meaning: "The card was reported lost.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  stolen_card: {
    meaning: "The card was reported stolen.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  pickup_card: {
    meaning: "The bank asks for the card to be retained (it may be lost or stolen).",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  restricted_card: {
    meaning: "The card cannot be used for this payment (restricted by the bank).",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  fraudulent: {
    meaning: "The payment was refused as suspected fraud.",
    tellCustomer: "Do not discuss fraud; say the bank declined the card and ask for another payment method.",
    retry: "never",
  },
  merchant_blacklist: {
    meaning: "The payment was refused by the gateway's block list.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  invalid_account: {
    meaning: "The card or its account is not valid (closed or unknown).",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  new_account_information_available: {
    meaning: "The card or its account is not valid; the bank has newer details.",
    tellCustomer: "Ask the customer for their new card details.",
    retry: "after_new_details",
  },
  card_not_supported: {
    meaning: "The card does not support this kind of payment.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  currency_not_supported: {
    meaning: "The card does not support this currency.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  transaction_not_allowed: {
    meaning: "The card does not allow this kind of payment.",
    tellCustomer: CONTACT_BANK,
    retry: "never",
  },
  not_permitted: {
    meaning: "The payment is not permitted on this card.",
    tellCustomer: CONTACT_BANK,
    retry: "never",
  },
  security_violation: {
    meaning: "The bank refused for a security reason.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
  revocation_of_authorization: {
    meaning: "The customer has withdrawn this merchant's permission to charge the card.",
    tellCustomer: "Ask the customer how they want to pay; do not charge the saved card again.",
    retry: "never",
  },
  revocation_of_all_authorizations: {
    meaning: "The customer has withdrawn every merchant's permission to charge the card.",
    tellCustomer: "Ask the customer how they want to pay; do not charge the saved card again.",
    retry: "never",
  },
  stop_payment_order: {
    meaning: "The customer asked their bank to stop payments to this merchant.",
    tellCustomer: "Ask the customer how they want to pay; do not charge the saved card again.",
    retry: "never",
  },
  do_not_try_again: {
    meaning: "The bank says this card must not be charged again.",
    tellCustomer: ASK_OTHER,
    retry: "never",
  },
};

/** What a decline without a known code means. */
const UNKNOWN_CODE: Entry = {
  meaning: "The card was declined.",
  tellCustomer: CONTACT_BANK,
  retry: "later",
  when: "only after the customer has spoken to their bank",
};

/** The words for each rule, with `when` for `later`. */
function retryText(rule: RetryRule, when: string | undefined): string {
  switch (rule) {
    case "never":
      return "Retry: not allowed. The card network forbids charging this card again (a do-not-retry code).";
    case "after_new_details":
      return "Retry: not with these card details. Only once the customer has given corrected or new card details.";
    case "after_customer_action":
      return "Retry: only after the customer has authenticated. Send them a payment link instead of charging again.";
    case "later":
      return `Retry: allowed ${when ?? "later"}. Each retry counts against the card network's limit (Visa 15 in 30 days; Mastercard 10 in 24 hours, 35 in 30 days).`;
  }
}

/**
 * Stripe's advice codes override the decline code's default: `do_not_try_again` forbids any retry,
 * `confirm_card_data` needs new details, `try_again_later` allows one later.
 */
function applyAdvice(entry: Entry, advice: string | null): Entry {
  switch (advice) {
    case "do_not_try_again":
      return { ...entry, retry: "never" };
    case "confirm_card_data":
      return entry.retry === "never" ? entry : { ...entry, retry: "after_new_details" };
    case "try_again_later":
      // The issuer's own advice; never loosens a network's "never".
      return entry.retry === "never" ? entry : { ...entry, retry: "later", when: entry.when ?? "later" };
    default:
      return entry;
  }
}

/**
 * The advice for a decline. `declineCode` is the gateway's most specific reason (the attempt's
 * `reason`: Stripe's decline code, else its error code); `adviceCode` Stripe's advice code when
 * the gateway passes it on (`null` when unknown).
 */
export function explainDecline(declineCode: string | null, adviceCode: string | null = null): DeclineAdvice {
  const code = (declineCode ?? "").trim().toLowerCase();
  const entry = applyAdvice(CODES[code] ?? UNKNOWN_CODE, adviceCode?.trim().toLowerCase() || null);
  return {
    code: code === "" ? "no code given" : code,
    meaning: entry.meaning,
    tellCustomer: entry.tellCustomer,
    retry: entry.retry,
    retryText: retryText(entry.retry, entry.when),
  };
}

/**
 * The advice for a declined attempt from its `reason`, which holds the decline code and, when the
 * issuer gave one, its advice code (`insufficient_funds advice:try_again_later`); words that are
 * not codes read as an unknown code.
 */
export function explainDeclineReason(reason: string | null): DeclineAdvice {
  const [code = "", advice, ...rest] = (reason ?? "").trim().split(/\s+/);
  const adviceCode = advice?.startsWith("advice:") && rest.length === 0 ? advice.slice("advice:".length) : null;
  return explainDecline(adviceCode !== null || advice === undefined ? code : reason, adviceCode);
}

/** The network's reattempt limit for a card brand, in words; `null` when the brand has none known. */
export function networkLimit(brand: string | null): string | null {
  switch ((brand ?? "").toLowerCase()) {
    case "visa":
      return "Visa allows at most 15 reattempts on a card in 30 days.";
    case "mastercard":
      return "Mastercard allows at most 10 reattempts on a card in 24 hours and 35 in 30 days.";
    default:
      return null;
  }
}
