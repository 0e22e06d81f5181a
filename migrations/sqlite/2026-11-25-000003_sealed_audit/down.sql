DROP TABLE audit_chain_start;
DROP TABLE audit_seals;
DROP INDEX audit_events_uid;
ALTER TABLE audit_events DROP COLUMN mac_key_id;
ALTER TABLE audit_events DROP COLUMN mac;
ALTER TABLE audit_events DROP COLUMN uid;
