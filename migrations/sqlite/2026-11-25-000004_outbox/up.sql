-- People are told of security events: an e-mail address per person, webhook subscriptions
-- for the bank's monitoring, and the outbox the action's own transaction writes to.
ALTER TABLE users ADD COLUMN email TEXT;

CREATE TABLE webhook_subscriptions (
    id             TEXT PRIMARY KEY,
    url            TEXT NOT NULL,
    -- JSON array of audit actions, or ["*"].
    event_types    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    sealed_secret  BLOB NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    removed_at     TIMESTAMP
);

-- One message to one destination. The id is the message's stable id: receivers drop
-- a duplicate delivery by it (delivery is at least once).
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    destination      TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    claimed_until    TIMESTAMP,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_created ON outbox (created_at, id);
