-- Version 6: reversals (issue 11). A manager cancels an uncaptured intent or refunds all or part
-- of a paid one; above the reversal threshold a second manager's approval is needed first.
-- Amounts are minor units; times are milliseconds since the Unix epoch; never a PIN.

-- One row per reversal, keyed by the client's idempotency key. `requested_minor` is what was
-- asked (NULL: the whole paid amount) so a replay with other parameters is told apart.
CREATE TABLE reversals (
    reversal_id     TEXT PRIMARY KEY,
    reversal_key    TEXT NOT NULL UNIQUE,
    order_id        TEXT NOT NULL,
    intent_id       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('cancel', 'refund')),
    requested_minor BIGINT,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    approved_by     TEXT,
    approval_id     TEXT,
    terminal_id     TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    gateway_key     TEXT NOT NULL,
    gateway_id      TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    failure         TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX reversals_order_idx ON reversals (order_id);
CREATE INDEX reversals_state_idx ON reversals (state);

-- A second manager's approval of one action on one order for one amount: single use, expiring.
CREATE TABLE approvals (
    approval_id  TEXT PRIMARY KEY,
    action       TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    approved_by  TEXT NOT NULL,
    terminal_id  TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    used_by      TEXT
);
CREATE INDEX approvals_order_idx ON approvals (order_id);
