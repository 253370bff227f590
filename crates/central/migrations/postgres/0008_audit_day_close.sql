-- Version 8: the audit log and the day close (issue 11). auth_audit gains a one-line detail
-- (which route refused a role, why a check failed: never a PIN or a token); claim_audit and the
-- refusal tables get an index on their time for the audit view; a day's sign-off is kept once.
-- Times are milliseconds since the Unix epoch; amounts are minor units.

ALTER TABLE auth_audit ADD COLUMN detail TEXT;
CREATE INDEX claim_audit_at_idx ON claim_audit (at);
CREATE INDEX fencing_refusals_at_idx ON fencing_refusals (at);
CREATE INDEX offline_grants_granted_idx ON offline_grants (granted_at);

-- One sign-off per UTC day (YYYY-MM-DD): the manager, the session and terminal it came from,
-- and the SHA-256 of the day's totals as the report showed them, so a later change is visible.
CREATE TABLE day_close_signoffs (
    day           TEXT PRIMARY KEY,
    signed_by     TEXT NOT NULL,
    terminal_id   TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    signed_at     BIGINT NOT NULL,
    totals_digest TEXT NOT NULL,
    note          TEXT
);
