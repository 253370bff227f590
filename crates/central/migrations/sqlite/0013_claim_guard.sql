-- Version 13: the duplicate guard and the card networks' reattempt limits (issue 12, items 3, 5).
-- Times are milliseconds since the Unix epoch.

-- Every time the guard refuses a claim (held, paid, outcome unknown, a similar recent payment,
-- a card over its reattempt limit or declined for good) or lets one through on an explicit
-- confirmation: who asked, where, for which order, and the earlier attempt it pointed at. The
-- audit log lists these rows as guard_<kind>.
CREATE TABLE claim_guard_events (
    event_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id          TEXT NOT NULL,
    kind              TEXT NOT NULL,
    outcome           TEXT NOT NULL CHECK (outcome IN ('refused', 'confirmed')),
    operator_id       TEXT NOT NULL,
    terminal_id       TEXT NOT NULL,
    session_id        TEXT,
    earlier_order_id  TEXT,
    earlier_intent_id TEXT,
    amount_minor      INTEGER,
    currency          TEXT,
    detail            TEXT NOT NULL,
    at                INTEGER NOT NULL
);
CREATE INDEX claim_guard_events_order_idx ON claim_guard_events (order_id, at);

-- What a terminal learned from the gateway about a declined attempt: its codes and the card's
-- brand, once per attempt. The card is the order's saved payment method at the time of the
-- report. Declined results in the results inbox count towards the limits as well; these rows
-- add the codes (a do-not-retry code blocks the card for good) and the network.
CREATE TABLE card_declines (
    attempt_id        TEXT PRIMARY KEY,
    order_id          TEXT NOT NULL,
    payment_method_id TEXT NOT NULL,
    network           TEXT NOT NULL,
    decline_code      TEXT,
    advice_code       TEXT,
    intent_id         TEXT,
    terminal_id       TEXT NOT NULL,
    occurred_at       INTEGER NOT NULL,
    received_at       INTEGER NOT NULL
);
CREATE INDEX card_declines_pm_idx ON card_declines (payment_method_id, occurred_at);

-- The guard looks up an order's card and its customer's recent payments of the same amount.
CREATE INDEX orders_payment_method_idx ON orders (payment_method_id);
CREATE INDEX orders_customer_amount_idx ON orders (customer_id, amount_minor, currency);
