-- Version 12: a gateway per order (issue 13, item 4). Each order names the gateway that charges
-- it; orders imported before this version were all Stripe's. The payment source stays in
-- payment_method_id, written in that gateway's syntax: a Stripe payment method (pm_...), or a
-- PayPal vaulted source card:<vault id> / paypal:<vault id> (a PayPal wallet).
ALTER TABLE orders ADD COLUMN gateway TEXT NOT NULL DEFAULT 'stripe'
    CHECK (gateway IN ('stripe', 'paypal'));
