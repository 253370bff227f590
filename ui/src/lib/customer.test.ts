import { describe, expect, it } from "vitest";
import type { CustomerWait } from "./bindings";
import { offersCustomerActions, waitBadge, waitLines, waitsByOrder, WAITING_LABEL } from "./customer";

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
const MIN = 60_000;

function wait(over: Partial<CustomerWait> = {}): CustomerWait {
  return {
    order_id: "demo-4005",
    intent_id: "pi_1",
    since: T0,
    link_sent_at: null,
    link_sent_by: null,
    link_expires_at: null,
    contacted_at: null,
    contacted_by: null,
    contact_note: null,
    ...over,
  };
}

describe("waiting for the customer", () => {
  it("says since when, and that no link was sent yet", () => {
    expect(waitLines(wait(), 0, T0 + MIN)).toEqual([
      "Waiting for the customer to confirm with their bank (3-D Secure) since 2026-11-30 09:00:00.",
      "No payment link sent yet.",
    ]);
    expect(waitBadge(wait(), 60)).toBe(`${WAITING_LABEL} (since 10:00)`);
  });

  it("names who sent the link, until when, and who contacted the customer", () => {
    const w = wait({
      link_sent_at: T0 + 5 * MIN,
      link_sent_by: "alice",
      link_expires_at: T0 + 24 * 60 * MIN,
      contacted_at: T0 + 10 * MIN,
      contacted_by: "bob",
      contact_note: "will confirm tonight",
    });
    expect(waitLines(w, 0, T0 + 11 * MIN)).toEqual([
      "Waiting for the customer to confirm with their bank (3-D Secure) since 2026-11-30 09:00:00.",
      "Payment link sent by alice at 2026-11-30 09:05:00, valid until 2026-12-01 09:00:00.",
      "Customer contacted by bob at 2026-11-30 09:10:00: “will confirm tonight”",
    ]);
    expect(waitBadge(w, 0)).toBe("Waiting for customer (since 09:00, link sent, contacted)");
  });

  it("says plainly when the link has expired", () => {
    const w = wait({ link_sent_at: T0, link_sent_by: "alice", link_expires_at: T0 + MIN });
    expect(waitLines(w, 0, T0 + MIN)[1]).toBe(
      "Payment link sent by alice at 2026-11-30 09:00:00; it has expired: send a new one.",
    );
  });

  it("offers the customer actions only to an order waiting for its customer", () => {
    expect(offersCustomerActions("needs_action", null)).toBe(true);
    expect(offersCustomerActions("unpaid", "needs_action")).toBe(true);
    expect(offersCustomerActions("unpaid", null)).toBe(false);
    expect(offersCustomerActions("paid", "paid")).toBe(false);
  });

  it("looks waits up by order", () => {
    const map = waitsByOrder([wait(), wait({ order_id: "o-2" })]);
    expect(map.get("o-2")?.order_id).toBe("o-2");
    expect(map.has("o-3")).toBe(false);
  });
});
