-- The request an audit event was written in: support finds a customer's failed request
-- by the X-Request-Id the customer's screen shows.
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
