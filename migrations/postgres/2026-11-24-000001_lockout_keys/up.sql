-- Sign-in locks are temporary with growing durations: until when, and how many in a row.
ALTER TABLE users ADD COLUMN login_locked_until TIMESTAMP;
ALTER TABLE users ADD COLUMN login_locks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_operators ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE bank_operators ADD COLUMN locks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_operators ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
-- The id of the master key whose derived key made a transfer's content hash; NULL for
-- transfers made before key ids were stored (the key current then).
ALTER TABLE transfers ADD COLUMN content_key_id TEXT;
