// The operator desk's calls that combine the shell's commands: this journal's attempts with an
// unknown outcome (for the queue), and "Check status" / "Retry the same attempt" for one of them.
// Deliberately thin: the shell's commands do the work (see ./attempt-actions.ts for why both
// actions run recovery), and errors stay `CallError`s from ./api.ts.
import { attemptTimeline, listAttempts, recoverNow } from "./api";
import type { AttemptState, AttemptView } from "./bindings";
import { afterCheck, unknownByOrder, type UnknownAction } from "./attempt-actions";

/** The states listed to find unknown outcomes (each one a journal query, on this computer). */
const OPEN_STATES: AttemptState[] = ["created", "registered", "confirm_sent", "unknown"];

/** This journal's attempts whose outcome is unknown, by order. */
export async function loadUnknownAttempts(): Promise<Map<string, AttemptView>> {
  const lists = await Promise.all(OPEN_STATES.map((state) => listAttempts({ state })));
  return unknownByOrder(lists.flat());
}

/** Runs `action` on `attemptId` and says where the attempt stands afterwards. */
export async function settleUnknown(
  attemptId: string,
  action: UnknownAction,
): Promise<{ settled: boolean; text: string; attempt: AttemptView | null }> {
  await recoverNow();
  const timeline = await attemptTimeline(attemptId).catch(() => null);
  const attempt = timeline?.attempt ?? null;
  return { ...afterCheck(action, attempt?.state ?? null), attempt };
}
