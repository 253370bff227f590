import { describe, expect, it } from "vitest";
import type { TrainingView } from "./bindings";
import { REHEARSALS, TRAINING_BANNER, armedLine, trainingToggle } from "./training";

const view = (over: Partial<TrainingView> = {}): TrainingView => ({
  available: true,
  on: true,
  armed: null,
  central_down: false,
  ...over,
});

describe("training mode's words", () => {
  it("the banner says training and that no real money moves", () => {
    expect(TRAINING_BANNER).toContain("Training");
    expect(TRAINING_BANNER).toContain("no real money");
  });

  it("offers the five rehearsals, each once", () => {
    expect(REHEARSALS.map((r) => r.value)).toEqual([
      "lost_response",
      "decline",
      "three_d_secure",
      "slow_gateway",
      "central_down",
    ]);
    expect(new Set(REHEARSALS.map((r) => r.label)).size).toBe(5);
  });

  it("says what an armed rehearsal does and how to recover", () => {
    expect(armedLine(view({ armed: "lost_response" }))).toContain("Check status");
    expect(armedLine(view({ armed: "lost_response" }))).toContain("nothing is charged twice");
    expect(armedLine(view({ armed: "decline" }))).toContain("declines");
    expect(armedLine(view({ armed: "central_down", central_down: true }))).toContain("bring the central back");
    expect(armedLine(view())).toContain("Nothing armed");
  });

  it("the switch says when training is unavailable and why", () => {
    const off = trainingToggle(view({ available: false, on: false }));
    expect(off.label).toContain("only in the demo");
    expect(off.title).toContain("real gateway");
    expect(trainingToggle(null).label).toContain("only in the demo");
    expect(trainingToggle(view({ on: true })).text).toBe("Training on");
    expect(trainingToggle(view({ on: false })).label).toBe("Turn training mode on");
  });
});
