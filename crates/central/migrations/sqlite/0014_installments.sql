-- Version 14: deposits and balances (issue 12, item 2). An order may be paid in several
-- payments (installments); the order keeps its amount and the central counts what its
-- successes add up to. Amounts are minor units of the order's currency; times are milliseconds
-- since the Unix epoch.

-- What the order's counted successes add up to, and how many there are: the balance due is
-- amount_minor - paid_minor; the next claim's installment is payments_counted + 1. An order
-- paid before this version was paid in full by one payment.
ALTER TABLE orders ADD COLUMN paid_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN payments_counted INTEGER NOT NULL DEFAULT 0;
UPDATE orders SET paid_minor = amount_minor, payments_counted = 1 WHERE status = 'paid';

-- What the live claim was granted to charge (the balance due, or the amount asked for) and
-- which installment it is; copied onto the intent it registers, so a webhook or the sweeper
-- checks that intent against its own amount, not the order's.
ALTER TABLE orders ADD COLUMN claim_amount_minor INTEGER;
ALTER TABLE orders ADD COLUMN claim_installment INTEGER;
ALTER TABLE intents ADD COLUMN amount_minor INTEGER;
ALTER TABLE intents ADD COLUMN installment INTEGER;

-- Each counted success, once per gateway intent (the primary key is the deduplication): a
-- success reported by a terminal, a webhook and the sweeper is counted once whoever is first.
-- over_charge: counting it took the order past its amount (an offline charge met an online
-- one); the money is recorded and a manager decides.
CREATE TABLE order_payments (
    intent_id    TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (order_id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    installment  INTEGER NOT NULL,
    source       TEXT NOT NULL,
    over_charge  INTEGER NOT NULL DEFAULT 0,
    counted_at   INTEGER NOT NULL
);
CREATE INDEX order_payments_order_idx ON order_payments (order_id);
INSERT INTO order_payments (intent_id, order_id, amount_minor, installment, source, counted_at)
    SELECT paid_intent_id, order_id, amount_minor, 1, 'migration', updated_at
    FROM orders WHERE status = 'paid' AND paid_intent_id IS NOT NULL AND amount_minor > 0;

-- Which payment of its order each result reports (1 for results received before this version).
ALTER TABLE results ADD COLUMN installment INTEGER NOT NULL DEFAULT 1;

-- An amount other than the balance due, charged with a reason: who, where, which order, what.
CREATE TABLE charge_amount_events (
    event_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        TEXT NOT NULL,
    claim_token     INTEGER NOT NULL,
    installment     INTEGER NOT NULL,
    amount_minor    INTEGER NOT NULL,
    balance_minor   INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    operator_id     TEXT NOT NULL,
    terminal_id     TEXT NOT NULL,
    session_id      TEXT,
    at              INTEGER NOT NULL
);
CREATE INDEX charge_amount_events_order_idx ON charge_amount_events (order_id, at);
