-- Sign-in with an electronic certificate (電子証明書方式, seed 002 Q4): how a contract's
-- people sign in, and the certificates the bank binds to people.
ALTER TABLE companies ADD COLUMN login_method TEXT NOT NULL DEFAULT 'password'
    CHECK (login_method IN ('password', 'certificate'));

CREATE TABLE person_certificates (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    -- SHA-256 of the DER certificate, lower-case hex: what a presented certificate must match.
    fingerprint    TEXT NOT NULL UNIQUE,
    serial         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    not_before     TIMESTAMP NOT NULL,
    not_after      TIMESTAMP NOT NULL,
    registered_at  TIMESTAMP NOT NULL,
    registered_by  TEXT NOT NULL,
    revoked_at     TIMESTAMP,
    revoked_by     TEXT
);
-- At most one active certificate per person.
CREATE UNIQUE INDEX person_certificates_one_active ON person_certificates (user_id)
    WHERE revoked_at IS NULL;
