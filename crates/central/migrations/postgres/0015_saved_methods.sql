-- Version 15: the order in context (issue 12, item 1). The customer's name as imported, and each
-- saved payment method as the central last read it from its gateway: a card's brand, last four
-- digits and expiry, or a PayPal wallet's e-mail, and the holder's name. Never a card number.
-- Times are milliseconds since the Unix epoch.
ALTER TABLE orders ADD COLUMN customer_name TEXT NOT NULL DEFAULT '';

-- One row per payment source (many orders may share one); kind 'unread' until a read succeeds.
-- A failed refresh keeps the details read before and records why in refresh_error.
CREATE TABLE saved_methods (
    gateway           TEXT NOT NULL CHECK (gateway IN ('stripe', 'paypal')),
    payment_method_id TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('card', 'paypal_wallet', 'other', 'unread')),
    brand             TEXT,
    last4             TEXT,
    exp_month         BIGINT,
    exp_year          BIGINT,
    email             TEXT,
    holder_name       TEXT,
    kind_name         TEXT,
    read_at           BIGINT NOT NULL,
    refresh_error     TEXT,
    checked_at        BIGINT NOT NULL,
    PRIMARY KEY (gateway, payment_method_id)
);
