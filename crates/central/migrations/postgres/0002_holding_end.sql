-- Version 2: when the last holding of each order ended (release, result or sweep), so a claim can
-- start its holding no earlier than that in one statement, without reading the clock under a lock.
ALTER TABLE orders ADD COLUMN ended_at BIGINT NOT NULL DEFAULT 0;
