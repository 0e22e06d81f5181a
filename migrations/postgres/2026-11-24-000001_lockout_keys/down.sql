ALTER TABLE transfers DROP COLUMN content_key_id;
ALTER TABLE bank_operators DROP COLUMN disabled;
ALTER TABLE bank_operators DROP COLUMN locks;
ALTER TABLE bank_operators DROP COLUMN locked_until;
ALTER TABLE users DROP COLUMN login_locks;
ALTER TABLE users DROP COLUMN login_locked_until;
