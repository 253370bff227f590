// @vitest-environment jsdom
// The customer actions of an order waiting for 3-D Secure, rendered in a DOM (jsdom) with the
// shell faked: the waiting facts are shown, "Send payment link" shows the link once with Copy and
// Open, "Mark customer contacted" sends the note, and axe-core finds no violations (every control
// named).
import axe from "axe-core";
import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CustomerWait, PaymentLink } from "../lib/bindings";

const LINK: PaymentLink = {
  order_id: "demo-1005",
  intent_id: "pi_1",
  url: `http://127.0.0.1:9/pay/pl_${"a".repeat(64)}`,
  sent_by: "demo-operator",
  created_at: Date.UTC(2026, 10, 30, 9, 5),
  expires_at: Date.UTC(2026, 11, 1, 9, 5),
};

vi.mock("../lib/api", async (original) => {
  const real = await original<typeof import("../lib/api")>();
  return {
    ...real,
    sendPaymentLink: vi.fn(async () => LINK),
    markCustomerContacted: vi.fn(async (order_id: string, note: string) => ({
      order_id,
      intent_id: "pi_1",
      contacted_by: "demo-operator",
      contacted_at: Date.UTC(2026, 10, 30, 9, 10),
      note,
    })),
  };
});

const api = await import("../lib/api");
const { default: CustomerAction } = await import("./CustomerAction.svelte");

const WAIT: CustomerWait = {
  order_id: "demo-1005",
  intent_id: "pi_1",
  since: Date.UTC(2026, 10, 30, 9, 0),
  link_sent_at: null,
  link_sent_by: null,
  link_expires_at: null,
  contacted_at: null,
  contacted_by: null,
  contact_note: null,
};

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await tick();
    await new Promise((r) => setTimeout(r, 0));
  }
  flushSync();
}

async function violations(): Promise<string[]> {
  const result = await axe.run(document.body, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    rules: { "color-contrast": { enabled: false } },
  });
  return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(" ")}`));
}

let app: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (app) unmount(app);
  app = null;
  document.body.innerHTML = "";
});

describe("an order waiting for its customer", () => {
  it("sends a link shown once with Copy and Open, records a contact, and has no violations", async () => {
    document.documentElement.lang = "en";
    document.title = "Paydesk";
    const main = document.createElement("main");
    document.body.appendChild(main);
    const changed = vi.fn();
    app = mount(CustomerAction, { target: main, props: { orderId: "demo-1005", wait: WAIT, onChanged: changed } });
    await settle();
    expect(document.body.textContent).toContain("No payment link sent yet.");
    expect(await violations()).toEqual([]);

    (document.querySelector('[data-testid="send-link"]') as HTMLButtonElement).click();
    await settle();
    expect(api.sendPaymentLink).toHaveBeenCalledWith("demo-1005");
    expect((document.querySelector('[data-testid="payment-link-url"]') as HTMLInputElement).value).toBe(LINK.url);
    expect((document.querySelector('[data-testid="open-link"]') as HTMLAnchorElement).href).toBe(LINK.url);
    expect(document.querySelector('[data-testid="copy-link"]')).not.toBeNull();
    expect(changed).toHaveBeenCalled();
    expect(await violations()).toEqual([]);

    const note = document.querySelector('[data-testid="contact-note"]') as HTMLInputElement;
    note.value = "left a voicemail";
    note.dispatchEvent(new Event("input", { bubbles: true }));
    (document.querySelector('[data-testid="mark-contacted"]') as HTMLButtonElement).click();
    await settle();
    expect(api.markCustomerContacted).toHaveBeenCalledWith("demo-1005", "left a voicemail");
    expect(document.querySelector('[data-testid="customer-said"]')?.textContent).toContain(
      "customer contacted by demo-operator",
    );
  });
});
