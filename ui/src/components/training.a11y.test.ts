// @vitest-environment jsdom
// Training mode's banner (issue 12, item 9) rendered in a DOM and checked with axe-core like the
// desk (desk.a11y.test.ts): every control is named and reachable by keyboard (native select and
// buttons), the headline says training and no real money, and its buttons ask the shell for the
// right thing. The shell is replaced by a fake of ../lib/api.
import axe from "axe-core";
import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Rehearsal, TrainingView } from "../lib/bindings";

const view = (over: Partial<TrainingView> = {}): TrainingView => ({
  available: true,
  on: true,
  armed: null,
  central_down: false,
  ...over,
});

vi.mock("../lib/api", async (original) => {
  const real = await original<typeof import("../lib/api")>();
  return {
    ...real,
    rehearse: vi.fn(async (rehearsal: Rehearsal | null) =>
      view({ armed: rehearsal, central_down: rehearsal === "central_down" }),
    ),
    setTraining: vi.fn(async (on: boolean) => view({ on })),
  };
});

const api = await import("../lib/api");
const { default: TrainingBanner } = await import("./TrainingBanner.svelte");

async function violations(): Promise<string[]> {
  const result = await axe.run(document.body, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
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

const buttons = (): string[] =>
  [...document.querySelectorAll("[data-testid='training-banner'] button")].map((b) => b.textContent?.trim() ?? "");

let app: ReturnType<typeof mount> | null = null;
beforeEach(() => {
  document.body.innerHTML = "";
  document.documentElement.lang = "en";
  document.title = "Paydesk";
});
afterEach(() => {
  if (app) unmount(app);
  app = null;
  vi.clearAllMocks();
});

function show(training: TrainingView, signedIn = true, onChanged = (_: TrainingView) => undefined): void {
  const main = document.createElement("main");
  document.body.append(main);
  app = mount(TrainingBanner, { target: main, props: { training, signedIn, onChanged } });
}

describe("training mode's banner", () => {
  it("has no accessibility violations and names the picker", async () => {
    show(view({ armed: "lost_response" }));
    await settle();
    expect(await violations()).toEqual([]);
    const banner = document.querySelector("[data-testid='training-banner']")!;
    expect(banner.textContent).toContain("Training — the gateway's faults are armed, no real money");
    const pick = document.querySelector<HTMLSelectElement>("#rehearsal-pick")!;
    expect(document.querySelector("label[for='rehearsal-pick']")?.textContent).toBe("Rehearse");
    expect([...pick.options].map((o) => o.value)).toEqual([
      "lost_response",
      "decline",
      "three_d_secure",
      "slow_gateway",
      "central_down",
    ]);
    expect(buttons()).toEqual(["Arm for the next charge", "End rehearsal", "Turn training off"]);
    expect(document.querySelector("[data-testid='rehearsal-armed']")?.textContent).toContain("Check status");
  });

  it("signed out, it shows only the headline (the controls need a session)", async () => {
    show(view(), false);
    await settle();
    expect(await violations()).toEqual([]);
    expect(buttons()).toEqual([]);
    expect(document.querySelector("[data-testid='training-banner']")?.textContent).toContain("no real money");
  });

  it("arms the picked rehearsal, ends it, and turns training off", async () => {
    const seen: TrainingView[] = [];
    show(view(), true, (v) => void seen.push(v));
    await settle();
    expect(buttons()).toEqual(["Arm for the next charge", "Turn training off"]);
    const pick = document.querySelector<HTMLSelectElement>("#rehearsal-pick")!;
    pick.value = "central_down";
    pick.dispatchEvent(new Event("change", { bubbles: true }));
    flushSync();
    const arm = document.querySelector<HTMLButtonElement>("[data-testid='rehearsal-arm']")!;
    expect(arm.textContent?.trim()).toBe("Stop the central");
    arm.click();
    await settle();
    expect(api.rehearse).toHaveBeenCalledWith("central_down");
    expect(seen.at(-1)?.central_down).toBe(true);
    document.querySelector<HTMLButtonElement>("[data-testid='training-off']")!.click();
    await settle();
    expect(api.setTraining).toHaveBeenCalledWith(false);
    expect(seen.at(-1)?.on).toBe(false);
  });

  it("an armed central down offers to bring the central back", async () => {
    show(view({ armed: "central_down", central_down: true }));
    await settle();
    expect(buttons()).toContain("End rehearsal: bring the central back");
    document.querySelector<HTMLButtonElement>("[data-testid='rehearsal-end']")!.click();
    await settle();
    expect(api.rehearse).toHaveBeenCalledWith(null);
  });
});
