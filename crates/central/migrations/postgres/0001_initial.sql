-- Paydesk central schema, version 1 (PostgreSQL). Times are milliseconds since the Unix epoch
-- (BIGINT) so the same queries run unchanged on SQLite; every integer is BIGINT for the same reason.

CREATE TABLE terminals (
    terminal_id  TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);

CREATE TABLE operators (
    operator_id TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('operator', 'manager')),
    pin_hash    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- The order row also carries its processing flag (holder, token, lease), so claiming is one
-- conditional UPDATE of one row.
CREATE TABLE orders (
    order_id          TEXT PRIMARY KEY,
    amount_minor      BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency          TEXT NOT NULL,
    customer_id       TEXT NOT NULL,
    payment_method_id TEXT NOT NULL,
    description       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('unpaid','paid','failed','needs_action','needs_review')),
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    claim_token       BIGINT NOT NULL DEFAULT 0,
    attempt_seq       BIGINT NOT NULL DEFAULT 0,
    holder_operator   TEXT,
    holder_terminal   TEXT,
    claimed_at        BIGINT,
    lease_until       BIGINT,
    open_intent_id    TEXT,
    paid_intent_id    TEXT,
    refunded_minor    BIGINT NOT NULL DEFAULT 0,
    disputed          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX orders_status_idx ON orders (status, order_id);

-- Every claim, renewal and end of holding, in order: the audit the contention test checks.
CREATE TABLE claim_audit (
    audit_id    BIGSERIAL PRIMARY KEY,
    order_id    TEXT NOT NULL,
    claim_token BIGINT NOT NULL,
    event       TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    lease_until BIGINT
);
CREATE INDEX claim_audit_order_idx ON claim_audit (order_id, claim_token);

CREATE TABLE intents (
    intent_id      TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL REFERENCES orders (order_id),
    claim_token    BIGINT NOT NULL,
    attempt_number BIGINT NOT NULL,
    terminal_id    TEXT NOT NULL,
    registered_at  BIGINT NOT NULL,
    state          TEXT NOT NULL
);
CREATE INDEX intents_order_idx ON intents (order_id);

-- Decisions refused because their claim token was stale (invariant I5), kept for managers.
CREATE TABLE fencing_refusals (
    refusal_id      BIGSERIAL PRIMARY KEY,
    order_id        TEXT NOT NULL,
    operation       TEXT NOT NULL,
    presented_token BIGINT NOT NULL,
    current_token   BIGINT NOT NULL,
    terminal_id     TEXT NOT NULL,
    at              BIGINT NOT NULL
);

-- The results inbox: one row per attempt, forever (the primary key is the deduplication).
CREATE TABLE results (
    attempt_id     TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL,
    attempt_number BIGINT NOT NULL,
    claim_token    BIGINT NOT NULL,
    terminal_id    TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    intent_id      TEXT,
    offline        BIGINT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    received_at    BIGINT NOT NULL,
    status         TEXT NOT NULL,
    reason         TEXT
);
CREATE INDEX results_order_idx ON results (order_id);
CREATE INDEX results_received_idx ON results (received_at);

-- Contradictions (results, webhooks, journal heads) kept for a manager; never silently dropped.
CREATE TABLE flags (
    flag_id  BIGSERIAL PRIMARY KEY,
    order_id TEXT,
    source   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at       BIGINT NOT NULL
);

CREATE TABLE journal_heads (
    terminal_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, seq)
);

CREATE TABLE webhook_events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL
);

CREATE TABLE unresolved (
    order_id    TEXT NOT NULL,
    claim_token BIGINT NOT NULL,
    intent_id   TEXT,
    reason      TEXT NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (order_id, claim_token)
);
