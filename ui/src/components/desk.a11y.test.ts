// @vitest-environment jsdom
// The operator's desk rendered in a DOM (jsdom) and checked with axe-core: every control has an
// accessible name and the screens have no WCAG A/AA violations axe can find without a layout
// engine (colour contrast needs real rendering: the e2e screenshots are judged by eye). Also the
// keyboard path: `/` focuses the search, typing narrows the queue, Enter opens the charge.
//
// The shell is replaced by a fake of ./lib/api: these tests are about the UI, not the engine.
import axe from "axe-core";
import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AttemptView, OrderView, QueueView } from "../lib/bindings";

const order = (id: string, minor: number, customer: string, description: string): OrderView =>
  ({
    order_id: id,
    amount: { minor, currency: "EUR" },
    amount_exponent: 2,
    customer_id: customer,
    payment_method_id: "pm_card_visa",
    description,
    status: "unpaid",
    chargeable: true,
    claim: null,
    paid_intent_id: null,
    refunded_minor: 0,
    disputed: false,
    created_at: 0,
    updated_at: 0,
    attempt_seq: 0,
    paid_minor: 0,
  }) as OrderView;

const QUEUE: QueueView = {
  orders: [
    order("demo-1001", 12_900, "cus_demo_anna", "Phone order: espresso machine"),
    order("demo-1004", 1_999, "cus_demo_dora", "Replacement filter set"),
    order("demo-1007", 150_000, "cus_demo_gabor", "Deposit: conservatory"),
    order("demo-1009", 5_000, "cus_demo_ida", "Held for a check"),
  ],
  offline: false,
  cached_at: null,
};
const UNKNOWN: AttemptView = {
  amount_exponent: 2,
  id: "01JD3Z8Q6W5N4M3K2J1H0G9F8E",
  order: "demo-1009",
  number: 1,
  claim_token: 3,
  amount: { minor: 5_000, currency: "EUR" },
  customer: "cus_demo_ida",
  payment_method: "pm_card_visa",
  operator: "demo-operator",
  terminal: "desk-1",
  offline: false,
  state: "unknown",
  create_key: "k",
  intent_id: "pi_1",
  created_at: 1,
  updated_at: 1,
  confirm_sent_at: 1,
  unknown_checks: 1,
  create_retry: 0,
  confirm_retry: 0,
  reason: null,
} as AttemptView;

vi.mock("../lib/api", async (original) => {
  const real = await original<typeof import("../lib/api")>();
  return {
    ...real,
    loadQueue: vi.fn(async () => QUEUE),
    listAttempts: vi.fn(async (filter: { state?: string }) =>
      filter.state === "unknown" ? [UNKNOWN, { ...UNKNOWN, id: "01JD3Z8Q6W5N4M3K2J1H0G9F8F", order: "demo-2002" }] : [],
    ),
    charge: vi.fn(),
    onChargeProgress: vi.fn(async () => () => undefined),
    recoverNow: vi.fn(),
    attemptTimeline: vi.fn(),
    signIn: vi.fn(),
  };
});

const api = await import("../lib/api");
const { default: Queue } = await import("./Queue.svelte");
const { default: SignIn } = await import("./SignIn.svelte");

/** axe's violations on the document, as "rule: target" lines (empty when clean). */
async function violations(): Promise<string[]> {
  const result = await axe.run(document.body, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    // jsdom has no rendering, so axe cannot compute colours (it would only report "incomplete").
    rules: { "color-contrast": { enabled: false } },
  });
  return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(" ")} (${v.help})`));
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await tick();
    await new Promise((r) => setTimeout(r, 0));
  }
  flushSync();
}

function key(target: EventTarget, k: string): void {
  target.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
  flushSync();
}

function type(input: HTMLInputElement, text: string): void {
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

let app: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  document.body.innerHTML = "";
  document.documentElement.lang = "en";
  document.title = "Paydesk";
  // jsdom has no layout: the queue scrolls rows into view.
  Element.prototype.scrollIntoView = () => undefined;
});
afterEach(() => {
  if (app) unmount(app);
  app = null;
});

describe("the operator's desk", () => {
  it("the check can fail: a button without a name and an input without a label are violations", async () => {
    document.body.innerHTML = `<main><button type="button"></button><input type="search"></main>`;
    const found = await violations();
    expect(found.some((v) => v.startsWith("button-name:"))).toBe(true);
    expect(found.some((v) => v.startsWith("label:"))).toBe(true);
  });

  it("the sign-in screen has no accessibility violations", async () => {
    app = mount(SignIn, { target: document.body, props: { embedded: true, onSignedIn: () => undefined } });
    await settle();
    expect(await violations()).toEqual([]);
  });

  it("the queue has no accessibility violations, and an unknown outcome offers exactly two actions", async () => {
    const main = document.createElement("main");
    document.body.append(main);
    app = mount(Queue, { target: main, props: { onCharged: () => undefined } });
    await settle();
    expect(document.querySelectorAll("[data-testid='order-row']").length).toBe(4);
    expect(await violations()).toEqual([]);
    const row = document.querySelector("[data-order-id='demo-1009']")!;
    const buttons = [...row.querySelectorAll("button")].map((b) => b.textContent?.trim());
    expect(buttons).toEqual(["Check status", "Retry the same attempt"]);
    expect(row.textContent).toContain("Outcome unknown — do not charge");
    // An unknown outcome whose order the central keeps out of the queue is listed above it.
    const unlisted = document.querySelector("[data-testid='unknown-row'][data-order-id='demo-2002']")!;
    expect([...unlisted.querySelectorAll("button")].map((b) => b.textContent?.trim())).toEqual([
      "Check status",
      "Retry the same attempt",
    ]);
    // Every button has an accessible name that says which order it acts on.
    for (const button of document.querySelectorAll("[data-testid='charge-button']")) {
      expect(button.getAttribute("aria-label")).toMatch(/^Charge order demo-\d+, [\d.]+ EUR$/);
    }
  });

  it("`/` focuses the search, typing narrows the queue, Enter opens the charge of the first match", async () => {
    const main = document.createElement("main");
    document.body.append(main);
    app = mount(Queue, { target: main, props: { onCharged: () => undefined } });
    await settle();
    (document.activeElement as HTMLElement | null)?.blur();
    key(document.body, "/");
    const search = document.querySelector<HTMLInputElement>("[data-testid='queue-search']")!;
    expect(document.activeElement).toBe(search);
    type(search, "dora");
    expect([...document.querySelectorAll("[data-testid='order-row']")].map((r) => r.getAttribute("data-order-id"))).toEqual([
      "demo-1004",
    ]);
    key(search, "Enter");
    await settle();
    const dialog = document.querySelector("[data-testid='charge-dialog']");
    expect(dialog?.textContent).toContain("Charge order demo-1004");
    expect(document.querySelector("[data-testid='charge-customer']")?.textContent).toBe("cus_demo_dora");
    expect(document.activeElement?.getAttribute("data-testid")).toBe("confirm-charge");
    expect(await violations()).toEqual([]);
  });

  it("arrow keys move the selection; a large amount needs its last two digits before Charge works", async () => {
    const main = document.createElement("main");
    document.body.append(main);
    app = mount(Queue, { target: main, props: { onCharged: () => undefined } });
    await settle();
    const search = document.querySelector<HTMLInputElement>("[data-testid='queue-search']")!;
    search.focus();
    // The first order is selected once the queue loads; two down is the third.
    expect(document.querySelector("tr.selected")?.getAttribute("data-order-id")).toBe("demo-1001");
    key(search, "ArrowDown");
    key(search, "ArrowDown");
    expect(document.querySelector("tr.selected")?.getAttribute("data-order-id")).toBe("demo-1007");
    key(search, "Enter");
    await settle();
    const confirm = document.querySelector<HTMLButtonElement>("[data-testid='confirm-charge']")!;
    const retype = document.querySelector<HTMLInputElement>("[data-testid='retype-input']")!;
    expect(document.activeElement).toBe(retype);
    expect(confirm.disabled).toBe(true);
    type(retype, "50");
    expect(confirm.disabled).toBe(true);
    expect(document.querySelector("[data-testid='retype-wrong']")).not.toBeNull();
    type(retype, "00");
    expect(confirm.disabled).toBe(false);
    expect(await violations()).toEqual([]);
  });

  it("a partly paid order shows its balance; another amount needs a reason and is what is charged", async () => {
    const partly = { ...QUEUE.orders[2]!, paid_minor: 50_000, attempt_seq: 1 };
    vi.mocked(api.loadQueue).mockResolvedValueOnce({ ...QUEUE, orders: [QUEUE.orders[0]!, partly] });
    vi.mocked(api.charge).mockClear();
    vi.mocked(api.charge).mockRejectedValueOnce({ kind: "central_unreachable", message: "Down.", next_step: "Wait." });
    const main = document.createElement("main");
    document.body.append(main);
    app = mount(Queue, { target: main, props: { onCharged: () => undefined } });
    await settle();
    const row = document.querySelector("[data-order-id='demo-1007']")!;
    expect(row.querySelector("[data-testid='order-balance']")?.textContent).toBe("Balance 1000.00 of 1500.00 EUR");
    expect(row.textContent).toContain("Partly paid");
    expect(row.textContent).toContain("Paid so far: 500.00 EUR");
    expect(document.querySelector("[data-order-id='demo-1001'] [data-testid='order-balance']")).toBeNull();
    row.querySelector<HTMLButtonElement>("[data-testid='charge-button']")!.click();
    await settle();
    const amount = document.querySelector<HTMLInputElement>("[data-testid='charge-amount-input']")!;
    const confirm = document.querySelector<HTMLButtonElement>("[data-testid='confirm-charge']")!;
    // The balance by default: still 1,000 EUR or more, so its last two digits are re-typed.
    expect(amount.value).toBe("1000.00");
    expect(document.querySelector("[data-testid='charge-reason-input']")).toBeNull();
    expect(document.querySelector("[data-testid='retype']")).not.toBeNull();
    expect(confirm.disabled).toBe(true);
    // Above the balance: refused in plain words.
    type(amount, "1000.01");
    expect(document.querySelector("[data-testid='charge-amount-problem']")?.textContent).toContain("more than the balance due (1000.00 EUR)");
    expect(confirm.disabled).toBe(true);
    // Less than the balance: below the re-type threshold, but a reason is required.
    type(amount, "999.50");
    expect(document.querySelector("[data-testid='retype']")).toBeNull();
    expect(document.querySelector("[data-testid='charge-summary']")?.textContent).toContain("will be charged 999.50 EUR");
    expect(confirm.textContent?.trim()).toBe("Charge 999.50 EUR");
    expect(confirm.disabled).toBe(true);
    type(document.querySelector<HTMLInputElement>("[data-testid='charge-reason-input']")!, "Second deposit, agreed by e-mail");
    expect(confirm.disabled).toBe(false);
    expect(await violations()).toEqual([]);
    confirm.click();
    await settle();
    expect(api.charge).toHaveBeenCalledWith(
      "demo-1007",
      { minor: 150_000, currency: "EUR" },
      false,
      { minor: 99_950, currency: "EUR" },
      "Second deposit, agreed by e-mail",
    );
  });

  it.each([
    ["succeeded", null, "receipt"],
    ["declined", "insufficient_funds", "decline-advice"],
  ] as const)("a %s charge shows its %s, without accessibility violations", async (state, reason, testid) => {
    vi.mocked(api.charge).mockResolvedValueOnce({
      attempt: { ...UNKNOWN, order: "demo-1001", amount: { minor: 12_900, currency: "EUR" }, state, reason },
      pending: null,
    });
    const main = document.createElement("main");
    document.body.append(main);
    app = mount(Queue, { target: main, props: { onCharged: () => undefined } });
    await settle();
    const search = document.querySelector<HTMLInputElement>("[data-testid='queue-search']")!;
    type(search, "anna");
    key(search, "Enter");
    await settle();
    document.querySelector<HTMLButtonElement>("[data-testid='confirm-charge']")!.click();
    await settle();
    const shown = document.querySelector(`[data-testid='${testid}']`);
    expect(shown, document.body.textContent ?? "").not.toBeNull();
    if (state === "succeeded") {
      expect(document.querySelector("[data-testid='receipt-reference']")?.textContent).toBe(`pi_1 / ${UNKNOWN.id}`);
    } else {
      expect(shown?.textContent).toContain("The card does not have enough funds for this amount.");
      expect(shown?.getAttribute("data-retry")).toBe("later");
    }
    expect(await violations()).toEqual([]);
  });
});
