import { describe, expect, it } from "vitest";
import { exportedLine, exportFileName } from "./csv";

describe("exportFileName", () => {
  it("names the report and its day", () => {
    expect(exportFileName("day close", "2026-11-30")).toBe("paydesk-day-close-2026-11-30.csv");
  });
  it("keeps only letters, digits and dashes", () => {
    expect(exportFileName("Audit log", "../../etc/x")).toBe("paydesk-audit-log-etc-x.csv");
    expect(exportFileName("journal", "")).toBe("paydesk-journal.csv");
  });
});

describe("exportedLine", () => {
  it("counts rows in words", () => {
    expect(exportedLine(1, "/tmp/a.csv")).toBe("Saved 1 row to /tmp/a.csv.");
    expect(exportedLine(0, "/tmp/a.csv")).toBe("Saved 0 rows to /tmp/a.csv.");
  });
});
