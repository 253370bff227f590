-- Version 11: PayPal webhook events (issue 13, item 3), each stored once under PayPal's event id
-- after its signature verified. A redelivery (PayPal retries up to 25 times over 3 days) finds the
-- row and changes nothing. resource_id is the capture or PayPal order the event is about,
-- paypal_order_id the PayPal order (the intent id Paydesk registered), order_id the Paydesk order
-- it matched (NULL when none), outcome one of applied, unmatched, ignored. Times are milliseconds
-- since the Unix epoch.
CREATE TABLE paypal_events (
    event_id        TEXT PRIMARY KEY,
    event_type      TEXT NOT NULL,
    resource_id     TEXT,
    paypal_order_id TEXT,
    order_id        TEXT,
    payload         TEXT NOT NULL,
    transmission_id TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    outcome         TEXT NOT NULL
);
