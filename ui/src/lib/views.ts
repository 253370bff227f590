// The desk's views and their keys: everyone has the queue (1) and the journal (2); a manager signed in
// online also has the manager's views (3 to 8). Pure, so the navigation is unit-tested.

export type View = "queue" | "journal" | "inbox" | "reversals" | "day_close" | "audit" | "outbox" | "settings";

export interface NavItem {
  view: View;
  label: string;
  key: string;
}

/** The manager's views, in the navigation's order. */
export const MANAGER_VIEWS: NavItem[] = [
  { view: "inbox", label: "Inbox", key: "3" },
  { view: "reversals", label: "Reversals", key: "4" },
  { view: "day_close", label: "Day close", key: "5" },
  { view: "audit", label: "Audit", key: "6" },
  { view: "outbox", label: "Outbox & offline", key: "7" },
  { view: "settings", label: "Settings", key: "8" },
];

/** The view a key opens, or `null`: an operator's keys stop at 2. */
export function viewForKey(key: string, manager: boolean): View | null {
  if (key === "1") return "queue";
  if (key === "2") return "journal";
  if (!manager) return null;
  return MANAGER_VIEWS.find((item) => item.key === key)?.view ?? null;
}
