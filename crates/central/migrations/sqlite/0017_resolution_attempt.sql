-- Version 17: a manager's "retry the same attempt" is an audited decision at the central like
-- the other resolutions (issue 11): the attempt it is of, which the terminal holding it retries
-- with its own keys. NULL for every other action.
ALTER TABLE resolutions ADD COLUMN attempt_id TEXT;
