-- Version 3: two reports per attempt, and refunds by refund id.
--
-- An attempt that goes to review is reported twice: first an interim `needs_review` (the order
-- is held while the outcome is unknown), later its final result. Each report is still applied
-- at most once: the key of the results inbox becomes (attempt_id, interim).
ALTER TABLE results ADD COLUMN interim BIGINT NOT NULL DEFAULT 0;
UPDATE results SET interim = 1 WHERE outcome = 'needs_review';
ALTER TABLE results DROP CONSTRAINT results_pkey;
ALTER TABLE results ADD PRIMARY KEY (attempt_id, interim);

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
    amount_minor BIGINT NOT NULL,
    status       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX refunds_intent_idx ON refunds (intent_id);
CREATE INDEX refunds_order_idx ON refunds (order_id);
