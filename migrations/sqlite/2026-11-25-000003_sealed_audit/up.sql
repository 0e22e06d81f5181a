-- A sealed audit trail. Each event carries a MAC of its content under a key derived from
-- the master key (uid makes every event unique, so no copy verifies); a sealer chains
-- committed events in the order it sees them commit, each link a MAC of the previous one.
-- Changing, removing or inserting a row shows at `webfb audit verify`.
ALTER TABLE audit_events ADD COLUMN uid TEXT;
ALTER TABLE audit_events ADD COLUMN mac TEXT;
ALTER TABLE audit_events ADD COLUMN mac_key_id TEXT;
CREATE UNIQUE INDEX audit_events_uid ON audit_events (uid);

CREATE TABLE audit_seals (
    position   BIGINT PRIMARY KEY,
    event_id   BIGINT NOT NULL UNIQUE REFERENCES audit_events (id),
    chain      TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    sealed_at  TIMESTAMP NOT NULL
);

-- Events written before this migration have no MAC: they are chained as they stand.
CREATE TABLE audit_chain_start (legacy_until BIGINT NOT NULL);
INSERT INTO audit_chain_start SELECT COALESCE(MAX(id), 0) FROM audit_events;

CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
BEGIN
    SELECT RAISE(ABORT, 'audit_seals is append-only');
END;
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
BEGIN
    SELECT RAISE(ABORT, 'audit_seals is append-only');
END;
CREATE TRIGGER audit_chain_start_no_update BEFORE UPDATE ON audit_chain_start
BEGIN
    SELECT RAISE(ABORT, 'audit_chain_start is fixed');
END;
