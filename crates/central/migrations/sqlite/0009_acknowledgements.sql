-- Version 9: inbox items a manager acknowledged (issue 11). An item with no money effect (a flag,
-- a stale token, dropped results, a failed refund or reversal, a refund made outside Paydesk) is
-- closed with a reason; the decision itself is a row of resolutions (action 'acknowledge', with
-- order_id '' for an item that names no order). One row per item: a repeated acknowledgement
-- finds it and changes nothing. Times are milliseconds since the Unix epoch.
CREATE TABLE acknowledgements (
    item_id       TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    order_id      TEXT,
    resolution_id INTEGER NOT NULL,
    at            INTEGER NOT NULL
);
