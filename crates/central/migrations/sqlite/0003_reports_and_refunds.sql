-- Version 3: two reports per attempt, and refunds by refund id.
--
-- An attempt that goes to review is reported twice: first an interim `needs_review` (the order
-- is held while the outcome is unknown), later its final result. Each report is still applied
-- at most once: the key of the results inbox becomes (attempt_id, interim). SQLite cannot change
-- a primary key in place, so the table is rebuilt.
CREATE TABLE results_v3 (
    attempt_id     TEXT NOT NULL,
    interim        INTEGER NOT NULL DEFAULT 0,
    order_id       TEXT NOT NULL,
    attempt_number INTEGER NOT NULL,
    claim_token    INTEGER NOT NULL,
    terminal_id    TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    intent_id      TEXT,
    offline        INTEGER NOT NULL,
    occurred_at    INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    status         TEXT NOT NULL,
    reason         TEXT,
    PRIMARY KEY (attempt_id, interim)
);
INSERT INTO results_v3 (attempt_id, interim, order_id, attempt_number, claim_token, terminal_id,
    outcome, amount_minor, currency, intent_id, offline, occurred_at, received_at, status, reason)
SELECT attempt_id, CASE WHEN outcome = 'needs_review' THEN 1 ELSE 0 END, order_id,
    attempt_number, claim_token, terminal_id, outcome, amount_minor, currency, intent_id, offline,
    occurred_at, received_at, status, reason
FROM results;
DROP TABLE results;
ALTER TABLE results_v3 RENAME TO results;
CREATE INDEX results_order_idx ON results (order_id);
CREATE INDEX results_received_idx ON results (received_at);

-- Every refund the gateway's webhooks named, once per refund id, with the intent it refunds.
-- An order's refunded amount is the sum of the distinct refunds of the intent that paid it
-- (`kind` 'refund'), or a charge's cumulative refunded amount when an event lists no refunds
-- (`kind` 'charge_total', keyed 'charge:' || charge id), whichever is larger.
CREATE TABLE refunds (
    refund_id    TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    intent_id    TEXT NOT NULL,
    charge_id    TEXT,
    amount_minor INTEGER NOT NULL,
    status       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE INDEX refunds_intent_idx ON refunds (intent_id);
CREATE INDEX refunds_order_idx ON refunds (order_id);
