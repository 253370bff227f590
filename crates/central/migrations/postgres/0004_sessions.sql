-- Version 4: who is asking (issue 10). Operator sessions bound to a terminal, the per-operator
-- sign-in lockout (it survives a restart), an audit of every authentication event, terminal
-- tokens that can be revoked and rotated, the session behind each claim, and the offline
-- allowances a manager granted (signed by the central; results are re-checked against them).
-- Tokens are only ever stored as SHA-256; times are milliseconds since the Unix epoch.

CREATE TABLE sessions (
    session_id   TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    terminal_id  TEXT NOT NULL,
    operator_id  TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('operator', 'manager')),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX sessions_terminal_idx ON sessions (terminal_id);

-- One row per operator id that ever failed a PIN check (known or not, so the lockout cannot
-- tell the two apart): consecutive failures, the lock in force and how many locks came before.
CREATE TABLE sign_in_failures (
    operator_id  TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locked_until BIGINT,
    lock_count   BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);

-- Every authentication event: pin_wrong, locked, signed_in, signed_out, token_revoked,
-- token_rotated, admin_401, ... Never a PIN or a token, only ids.
CREATE TABLE auth_audit (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    terminal_id TEXT,
    operator_id TEXT,
    event       TEXT NOT NULL,
    token_id    TEXT,
    session_id  TEXT
);
CREATE INDEX auth_audit_at_idx ON auth_audit (at);

-- Each token gets a public id (listed and audited; the token itself is shown once). Existing
-- rows get a random one.
ALTER TABLE terminals ADD COLUMN token_id TEXT;
ALTER TABLE terminals ADD COLUMN revoked_at BIGINT;
ALTER TABLE terminals ADD COLUMN last_seen_at BIGINT;
UPDATE terminals SET token_id = 'tok_' || substr(md5(random()::text || clock_timestamp()::text || terminal_id), 1, 24) WHERE token_id IS NULL;
CREATE UNIQUE INDEX terminals_token_id_idx ON terminals (token_id);

-- The session a claim was made in (NULL for claims made before sessions existed, and for
-- events that no session causes: renewals by the terminal, sweeps).
ALTER TABLE claim_audit ADD COLUMN session_id TEXT;

CREATE TABLE offline_grants (
    grant_id         TEXT PRIMARY KEY,
    terminal_id      TEXT NOT NULL,
    approved_by      TEXT NOT NULL,
    currency         TEXT NOT NULL,
    per_charge_minor BIGINT NOT NULL,
    per_shift_minor  BIGINT NOT NULL,
    cache_age_ms_max BIGINT NOT NULL,
    granted_at       BIGINT NOT NULL,
    until_at         BIGINT NOT NULL,
    session_id       TEXT NOT NULL,
    signature        TEXT NOT NULL
);
CREATE INDEX offline_grants_terminal_idx ON offline_grants (terminal_id, until_at);
