DROP TABLE outbox;
DROP TABLE webhook_subscriptions;
ALTER TABLE users DROP COLUMN email;
