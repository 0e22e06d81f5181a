-- Personal contracts (個人): a contract of one customer beside companies, sign-in challenges
-- for the code step, and tokens the bank suspends on a lost device.
-- SQLite cannot change a CHECK constraint in place: `users` is rebuilt with the customer
-- role, the documented way (foreign keys off, one transaction, then checked).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_rebuilt (
    id                           TEXT PRIMARY KEY,
    company_id                   TEXT NOT NULL REFERENCES companies (id),
    login_id                     TEXT NOT NULL UNIQUE,
    name                         TEXT NOT NULL,
    role                         TEXT NOT NULL CHECK (role IN ('admin', 'user', 'customer')),
    can_transfer                 BOOLEAN NOT NULL,
    disabled                     BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash                TEXT NOT NULL,
    failed_logins                INTEGER NOT NULL DEFAULT 0,
    login_locked_at              TIMESTAMP,
    transfer_password_hash       TEXT NOT NULL,
    transfer_password_failures   INTEGER NOT NULL DEFAULT 0,
    transfer_password_locked_at  TIMESTAMP,
    approval_password_hash       TEXT,
    approval_failures            INTEGER NOT NULL DEFAULT 0,
    approval_locked_at           TIMESTAMP,
    created_at                   TIMESTAMP NOT NULL,
    updated_at                   TIMESTAMP NOT NULL,
    login_locked_until           TIMESTAMP,
    login_locks                  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users_rebuilt SELECT
    id, company_id, login_id, name, role, can_transfer, disabled, password_hash,
    failed_logins, login_locked_at, transfer_password_hash, transfer_password_failures,
    transfer_password_locked_at, approval_password_hash, approval_failures,
    approval_locked_at, created_at, updated_at, login_locked_until, login_locks
FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
CREATE INDEX users_company ON users (company_id);
CREATE UNIQUE INDEX users_one_admin_per_company ON users (company_id) WHERE role = 'admin';
-- A personal contract has exactly one person, its customer.
CREATE UNIQUE INDEX users_one_customer_per_contract ON users (company_id) WHERE role = 'customer';

ALTER TABLE companies ADD COLUMN kind TEXT NOT NULL DEFAULT 'corporate'
    CHECK (kind IN ('corporate', 'personal'));
ALTER TABLE companies ADD COLUMN closed_at TIMESTAMP;
CREATE INDEX companies_kind ON companies (kind, created_at);

-- The bank suspends a token at once when its device is lost; codes are refused until the
-- bank reissues (the token is then retired and the person registers a new one).
ALTER TABLE soft_tokens ADD COLUMN suspended_at TIMESTAMP;

-- The code step of a sign-in: single use, short-lived, for one person. Only a hash of the
-- challenge is stored.
CREATE TABLE sign_in_challenges (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX sign_in_challenges_user ON sign_in_challenges (user_id);
-- Nothing may point nowhere: a violation fails this insert, and the migration with it.
CREATE TEMP TABLE personal_migration_check (violations INTEGER CHECK (violations = 0));
INSERT INTO personal_migration_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE personal_migration_check;
COMMIT;
PRAGMA foreign_keys = ON;
