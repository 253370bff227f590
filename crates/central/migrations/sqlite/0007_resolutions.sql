-- Version 7: guided resolutions (issue 11). A manager decides what happened to an order whose
-- outcome needed a person, on gateway evidence the central read itself. Every decision, and every
-- refused one, is kept. Times are milliseconds since the Unix epoch; never a PIN.
CREATE TABLE resolutions (
    resolution_id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id      TEXT NOT NULL,
    action        TEXT NOT NULL,
    intent_id     TEXT,
    manager_id    TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    terminal_id   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('applied', 'refused')),
    at            INTEGER NOT NULL
);
CREATE INDEX resolutions_order_idx ON resolutions (order_id, resolution_id);
CREATE INDEX resolutions_at_idx ON resolutions (at);

-- A flag or a stale-token refusal a manager's decision about its order settled: it leaves the
-- exception inbox but stays for the audit.
ALTER TABLE flags ADD COLUMN resolved_at INTEGER;
ALTER TABLE fencing_refusals ADD COLUMN resolved_at INTEGER;
