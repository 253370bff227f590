// Unit tests of the decline advice: plain words, and whether and when a retry is allowed.
import { describe, expect, it } from "vitest";
import { explainDecline, explainDeclineReason, networkLimit } from "./declines";

describe("explainDecline", () => {
  it.each([
    ["lost_card", "never"],
    ["stolen_card", "never"],
    ["pickup_card", "never"],
    ["fraudulent", "never"],
    ["revocation_of_authorization", "never"],
    ["expired_card", "after_new_details"],
    ["incorrect_cvc", "after_new_details"],
    ["authentication_required", "after_customer_action"],
    ["insufficient_funds", "later"],
    ["generic_decline", "later"],
    ["processing_error", "later"],
  ])("%s: retry %s", (code, rule) => {
    expect(explainDecline(code).retry).toBe(rule);
  });

  it("says in plain words what happened and what to tell the customer", () => {
    const advice = explainDecline("insufficient_funds");
    expect(advice.meaning).toBe("The card does not have enough funds for this amount.");
    expect(advice.tellCustomer).toContain("lack of funds");
    expect(advice.retryText).toMatch(/^Retry: allowed once the customer says the funds are there/);
    expect(advice.retryText).toContain("Visa 15 in 30 days");
  });

  it("forbids a retry after a do-not-retry code, in words", () => {
    expect(explainDecline("stolen_card").retryText).toMatch(/^Retry: not allowed\./);
  });

  it("lets the advice code tighten, never loosen", () => {
    expect(explainDecline("generic_decline", "do_not_try_again").retry).toBe("never");
    expect(explainDecline("insufficient_funds", "confirm_card_data").retry).toBe("after_new_details");
    expect(explainDecline("stolen_card", "try_again_later").retry).toBe("never");
    expect(explainDecline("stolen_card", "confirm_card_data").retry).toBe("never");
    expect(explainDecline("expired_card", "try_again_later").retry).toBe("later");
  });

  it("reads codes in any case and explains an unknown or missing code generically", () => {
    expect(explainDecline("Lost_Card").retry).toBe("never");
    const unknown = explainDecline("something_new");
    expect(unknown.code).toBe("something_new");
    expect(unknown.meaning).toBe("The card was declined.");
    expect(unknown.retry).toBe("later");
    expect(explainDecline(null).code).toBe("no code given");
  });
});

describe("explainDeclineReason", () => {
  it("reads the decline code and the issuer's advice from an attempt's reason", () => {
    expect(explainDeclineReason("insufficient_funds")).toEqual(explainDecline("insufficient_funds"));
    const advised = explainDeclineReason("insufficient_funds advice:do_not_try_again");
    expect(advised.code).toBe("insufficient_funds");
    expect(advised.retry).toBe("never");
    expect(explainDeclineReason("expired_card advice:confirm_card_data")).toEqual(
      explainDecline("expired_card", "confirm_card_data"),
    );
  });

  it("treats words, or a missing reason, as no known code", () => {
    expect(explainDeclineReason("the card was declined").meaning).toBe(explainDecline("nonsense").meaning);
    expect(explainDeclineReason(null).code).toBe("no code given");
  });
});

describe("networkLimit", () => {
  it("states Visa's and Mastercard's reattempt limits", () => {
    expect(networkLimit("visa")).toContain("15 reattempts");
    expect(networkLimit("Mastercard")).toContain("10 reattempts on a card in 24 hours and 35 in 30 days");
    expect(networkLimit("amex")).toBeNull();
    expect(networkLimit(null)).toBeNull();
  });
});
