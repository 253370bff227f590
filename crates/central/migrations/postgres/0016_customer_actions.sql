-- Version 16: when the customer must act (issue 12, item 6). Times are milliseconds since the
-- Unix epoch.

-- What operators did for an order waiting for its customer (3-D Secure): a payment link sent
-- (`link_sent`: the SHA-256 of its token, never the token, and when it stops working) or the
-- customer marked as contacted (`contacted`, with an optional note). Each row names who, from
-- which terminal and session, when, and the intent the customer was asked to complete. The audit
-- log lists these rows as customer_link_sent and customer_contacted.
CREATE TABLE customer_actions (
    action_id    TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL,
    intent_id    TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('link_sent', 'contacted')),
    token_sha256 TEXT UNIQUE,
    expires_at   BIGINT,
    note         TEXT NOT NULL DEFAULT '',
    operator_id  TEXT NOT NULL,
    terminal_id  TEXT NOT NULL,
    session_id   TEXT,
    at           BIGINT NOT NULL
);
CREATE INDEX customer_actions_order_idx ON customer_actions (order_id, at);
