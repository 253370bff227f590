// The inbox's words and the actions the resolution offers.
import { describe, expect, it } from "vitest";
import type { AllowedAction, EvidenceView, InboxItem, InboxView, TimelineView } from "./bindings";
import {
  ageWords,
  badgeText,
  gatewayWords,
  inboxHeadline,
  isDoubleSuccess,
  kindWords,
  localRetryAttempt,
  offeredActions,
  orderlessActions,
  orderStatusWords,
  orderWords,
} from "./inbox";

function item(over: Partial<InboxItem> = {}): InboxItem {
  return {
    kind: "unknown_outcome",
    item_id: "order:o-1",
    order_id: "o-1",
    since_ms: 1_000_000,
    summary: "intent pi_1 has no result",
    evidence: ["pi_1"],
    source: "central",
    attempt_id: null,
    outbox_id: null,
    acknowledgeable: false,
    gateway: null,
    ...over,
  };
}

function allowed(action: AllowedAction["action"], over: Partial<AllowedAction> = {}): AllowedAction {
  return { action, intent_id: null, item_id: null, via: action === "retry" ? "terminal" : action === "reverse" ? "reversal" : "resolution", label: action, ...over };
}

function timeline(id: string, state: string): TimelineView {
  return { attempt: { id, state } as unknown as TimelineView["attempt"], events: [] };
}

function evidence(actions: AllowedAction[] | null, journal: TimelineView[] = []): EvidenceView {
  return {
    order_id: "o-1",
    journal,
    evidence: actions === null ? null : ({ allowed_actions: actions } as unknown as EvidenceView["evidence"]),
    central_problem: actions === null ? "The central server cannot be reached." : null,
  };
}

describe("the gateway beside an item's order (issue 13, item 4)", () => {
  it("names the gateway the central knows, and nothing when it does not", () => {
    expect(orderWords(item({ order_id: "o-1", gateway: "paypal" }))).toBe("o-1 (PayPal)");
    expect(gatewayWords(item({ order_id: "o-1", gateway: "stripe" }))).toBe("Stripe");
    expect(orderWords(item({ order_id: "o-1", gateway: null }))).toBe("o-1");
    expect(gatewayWords(item({ order_id: "o-1", gateway: null }))).toBeNull();
    expect(orderWords(item({ order_id: null, gateway: null }))).toBe("—");
  });
});

describe("kindWords", () => {
  it("says what each kind means", () => {
    expect(kindWords("unknown_outcome")).toBe("Payment outcome not known");
    expect(kindWords("outside_refund")).toBe("Refund made outside Paydesk");
    expect(kindWords("parked_message")).toContain("this terminal");
  });
  it("reads a kind it does not know with spaces, not underscores", () => {
    expect(kindWords("brand_new_kind")).toBe("brand new kind");
  });
});

describe("ageWords and badgeText", () => {
  it("says how long an item waits", () => {
    expect(ageWords(item({ since_ms: 0 }), 30_000)).toBe("new");
    expect(ageWords(item({ since_ms: 0 }), 5 * 60_000)).toBe("waiting 5 min");
    expect(ageWords(item({ since_ms: 0 }), 26 * 3_600_000)).toBe("waiting 1 d 2 h");
  });
  it("shows no badge for an empty inbox and caps it", () => {
    expect(badgeText(0)).toBe("");
    expect(badgeText(7)).toBe("7");
    expect(badgeText(120)).toBe("99+");
  });
  it("heads the list in a sentence", () => {
    expect(inboxHeadline({ total: 0 } as InboxView)).toBe("Nothing needs a manager right now.");
    expect(inboxHeadline({ total: 1 } as InboxView)).toMatch(/^1 item needs a manager/);
  });
});

describe("offeredActions", () => {
  it("offers exactly the central's allowed actions", () => {
    const view = evidence([allowed("mark_charged", { intent_id: "pi_1" }), allowed("reverse", { intent_id: "pi_1" })]);
    const offered = offeredActions(view, item());
    expect(offered.map((o) => o.action)).toEqual(["mark_charged", "reverse"]);
    expect(offered.find((o) => o.action === "reverse")?.movesMoney).toBe(true);
    expect(offered.find((o) => o.action === "mark_charged")?.movesMoney).toBe(false);
  });
  it("drops retry when this terminal does not hold the attempt", () => {
    const view = evidence([allowed("retry"), allowed("mark_not_charged")]);
    expect(offeredActions(view, item()).map((o) => o.action)).toEqual(["mark_not_charged"]);
  });
  it("keeps retry for this terminal's own unknown attempt", () => {
    const view = evidence([allowed("retry")], [timeline("a-1", "unknown")]);
    expect(offeredActions(view, item()).map((o) => o.action)).toEqual(["retry"]);
  });
  it("offers nothing but a local retry when the central gave no evidence", () => {
    expect(offeredActions(evidence(null), item())).toEqual([]);
    const local = item({ source: "terminal", kind: "attempt_unknown", attempt_id: "a-9" });
    expect(offeredActions(evidence(null, [timeline("a-9", "unknown")]), local).map((o) => o.action)).toEqual(["retry"]);
  });
  it("never offers the same action twice", () => {
    const view = evidence([allowed("mark_charged", { intent_id: "pi_1" }), allowed("mark_charged", { intent_id: "pi_2" })]);
    const keys = offeredActions(view, item()).map((o) => o.key);
    expect(new Set(keys).size).toBe(2);
  });
});

describe("localRetryAttempt and isDoubleSuccess", () => {
  it("retries the item's own attempt, else the order's newest unfinished one", () => {
    expect(localRetryAttempt(evidence([]), item({ source: "terminal", attempt_id: "a-1", kind: "attempt_unknown" }))).toBe("a-1");
    expect(localRetryAttempt(evidence([], [timeline("a-1", "declined"), timeline("a-2", "unknown")]), item())).toBe("a-2");
    expect(localRetryAttempt(evidence([], [timeline("a-1", "succeeded")]), item())).toBeNull();
  });
  it("tells a double success from another flag", () => {
    expect(isDoubleSuccess(item({ kind: "flag", summary: "second success for the order (sweeper)" }))).toBe(true);
    expect(isDoubleSuccess(item({ kind: "flag", summary: "dispute opened" }))).toBe(false);
  });
});

describe("this terminal's parked results and items without an order", () => {
  it("offers sending a parked result again or archiving it, beside the central's actions", () => {
    const parked = item({ kind: "parked_message", source: "terminal", item_id: "outbox:4", outbox_id: 4, attempt_id: "a-1" });
    const offered = offeredActions(evidence([allowed("mark_charged", { intent_id: "pi_1" })]), parked);
    expect(offered.map((o) => o.action)).toEqual(["mark_charged", "send_again", "archive"]);
  });
  it("offers only acknowledging an item without an order, and only when the central allows it", () => {
    const dropped = item({ kind: "dropped_results", order_id: null, item_id: "drops:t:1", acknowledgeable: true });
    expect(orderlessActions(dropped).map((o) => [o.action, o.item_id])).toEqual([["acknowledge", "drops:t:1"]]);
    expect(orderlessActions({ ...dropped, acknowledgeable: false })).toEqual([]);
    expect(orderlessActions(item({ acknowledgeable: true }))).toEqual([]);
  });
});

describe("orderStatusWords", () => {
  it("says what the central's status means", () => {
    expect(orderStatusWords("needs_review")).toBe("in review: a manager decides");
    expect(orderStatusWords("unpaid")).toBe("not paid");
    expect(orderStatusWords("something_new")).toBe("something new");
  });
});

describe("the open item's own acknowledgement", () => {
  it("comes first among the order's acknowledgements", () => {
    const view = evidence([
      allowed("acknowledge", { item_id: "flag:1" }),
      allowed("reverse", { intent_id: "pi_1" }),
      allowed("acknowledge", { item_id: "outside:re_1" }),
    ]);
    const offered = offeredActions(view, item({ kind: "outside_refund", item_id: "outside:re_1" }));
    expect(offered.map((o) => o.item_id ?? o.action)).toEqual(["outside:re_1", "flag:1", "reverse"]);
  });
});
