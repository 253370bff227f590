-- Version 5: the central trusts no terminal's word about money (issue 10, review C1, H3, H4, M4).
--
-- What marked an order paid: 'gateway' (the central read the intent at the gateway and it matched
-- the order's amount, customer, payment method and metadata), 'webhook' (a signed gateway event
-- that matched the same way) or 'manager'. NULL for orders paid before this version and for
-- orders not paid.
ALTER TABLE orders ADD COLUMN verified_by TEXT;

-- A stored result that counts against its terminal's hourly quota of rejected and flagged
-- results (1 = rejected, or flagged for a reason other than a success awaiting the gateway).
ALTER TABLE results ADD COLUMN suspect INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_terminal_received_idx ON results (terminal_id, received_at);

-- Suspect results a terminal sent over its quota: counted per terminal and hour, not stored.
CREATE TABLE result_drops (
    terminal_id  TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    dropped      INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, window_start)
);

-- Flags are paged by id and filtered by order and source.
CREATE INDEX flags_order_idx ON flags (order_id, flag_id);
CREATE INDEX flags_source_idx ON flags (source, flag_id);
