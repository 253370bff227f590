-- Version 10: permissions and limits (issue 11, item 8). Only what a manager or the admin
-- changed is stored; a missing row means the default (operators take payments, managers do
-- everything; no refund limit; the four-eyes threshold of the central's configuration).
-- Every change is also written to auth_audit as 'setting_changed' (who, when, old -> new).
-- Times are milliseconds since the Unix epoch; amounts are minor units.

-- Whether a role may take an action (allowed 1 or 0), overriding the default.
CREATE TABLE role_permissions (
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    allowed    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (role, action)
);

-- One person's refund limits in one currency; NULL: no limit of that kind.
CREATE TABLE user_limits (
    operator_id      TEXT NOT NULL,
    currency         TEXT NOT NULL,
    per_refund_minor BIGINT,
    per_day_minor    BIGINT,
    updated_at       BIGINT NOT NULL,
    updated_by       TEXT NOT NULL,
    PRIMARY KEY (operator_id, currency)
);

-- Central-wide numeric settings by name (reversal_approval_above_minor).
CREATE TABLE central_settings (
    name       TEXT PRIMARY KEY,
    value      BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- The per-day limit sums a person's refunds of one day.
CREATE INDEX reversals_requested_by_idx ON reversals (requested_by, created_at);
