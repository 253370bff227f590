// Where a CSV export goes: the OS save dialog (tauri-plugin-dialog) picks the path, and the shell
// writes the file (the UI never holds the file's contents or any file-system permission).
//
// The end-to-end tests cannot click a native dialog, so a test driver may put the path in
// `window.__PAYDESK_E2E_SAVE_PATH__` before pressing Export; nothing in the app sets it, and the
// shell's write is exercised all the same.
import { save } from "@tauri-apps/plugin-dialog";

declare global {
  interface Window {
    __PAYDESK_E2E_SAVE_PATH__?: string;
  }
}

/** "paydesk-day-close-2026-11-30.csv": what the save dialog proposes. Letters, digits and - only. */
export function exportFileName(what: string, when: string): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/-+/g, "-")
      .replace(/^-|-$/g, "");
  const parts = ["paydesk", clean(what), clean(when)].filter((p) => p.length > 0);
  return `${parts.join("-")}.csv`;
}

/** The path the person chose for `fileName`, or null when they closed the dialog. */
export async function chooseSavePath(fileName: string): Promise<string | null> {
  const preset = typeof window !== "undefined" ? window.__PAYDESK_E2E_SAVE_PATH__ : undefined;
  if (preset) return preset;
  return save({ defaultPath: fileName, filters: [{ name: "CSV (spreadsheet)", extensions: ["csv"] }] });
}

/** The sentence shown after an export. */
export function exportedLine(rows: number, path: string): string {
  return `Saved ${rows} ${rows === 1 ? "row" : "rows"} to ${path}.`;
}
