-- webfb initial schema (SQLite). Ids are UUIDs generated in Rust, stored as text;
-- times are UTC timestamps written by the application's clock.

CREATE TABLE bank_operators (
    id              TEXT PRIMARY KEY,
    login_id        TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_at       TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE companies (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    transfer_limit    BIGINT NOT NULL CHECK (transfer_limit > 0),
    otp_mode          TEXT CHECK (otp_mode IN ('per_user', 'shared')),
    otp_status        TEXT NOT NULL DEFAULT 'inactive' CHECK (otp_status IN ('inactive', 'active')),
    otp_activated_at  TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

-- A debit account (branch code + account number) belongs to one company of the bank.
CREATE TABLE company_accounts (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    branch_code     TEXT NOT NULL,
    account_number  TEXT NOT NULL,
    UNIQUE (branch_code, account_number)
);
CREATE INDEX company_accounts_company ON company_accounts (company_id);

CREATE TABLE users (
    id                           TEXT PRIMARY KEY,
    company_id                   TEXT NOT NULL REFERENCES companies (id),
    login_id                     TEXT NOT NULL UNIQUE,
    name                         TEXT NOT NULL,
    role                         TEXT NOT NULL CHECK (role IN ('admin', 'user')),
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
    updated_at                   TIMESTAMP NOT NULL
);
CREATE INDEX users_company ON users (company_id);
CREATE UNIQUE INDEX users_one_admin_per_company ON users (company_id) WHERE role = 'admin';

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('person', 'operator')),
    subject_id    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP
);
CREATE INDEX sessions_subject ON sessions (subject_id);

CREATE TABLE soft_tokens (
    id               TEXT PRIMARY KEY,
    token_id         TEXT NOT NULL UNIQUE,
    company_id       TEXT REFERENCES companies (id),
    source           TEXT NOT NULL CHECK (source IN ('issued', 'imported')),
    algorithm        TEXT NOT NULL,
    digits           INTEGER NOT NULL,
    period           INTEGER NOT NULL,
    key_id           TEXT NOT NULL,
    sealed_secret    BLOB NOT NULL,
    issued_by        TEXT,
    issued_at        TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP,
    holder_id        TEXT UNIQUE REFERENCES users (id),
    registered_at    TIMESTAMP,
    last_used_step   BIGINT NOT NULL DEFAULT -1,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    locked_at        TIMESTAMP
);
CREATE INDEX soft_tokens_company ON soft_tokens (company_id);

-- Every accepted code, once: (token, step) is unique. Records who used it and for what.
CREATE TABLE otp_step_uses (
    id            TEXT PRIMARY KEY,
    soft_token_id TEXT NOT NULL REFERENCES soft_tokens (id),
    step          BIGINT NOT NULL,
    used_by       TEXT NOT NULL REFERENCES users (id),
    purpose       TEXT NOT NULL,
    transfer_id   TEXT,
    used_at       TIMESTAMP NOT NULL,
    UNIQUE (soft_token_id, step)
);

CREATE TABLE transfers (
    id                    TEXT PRIMARY KEY,
    company_id            TEXT NOT NULL REFERENCES companies (id),
    created_by            TEXT NOT NULL REFERENCES users (id),
    idempotency_key       TEXT NOT NULL,
    request_hash          TEXT NOT NULL,
    content_hash          TEXT NOT NULL,
    debit_account         TEXT NOT NULL,
    payee_bank_code       TEXT NOT NULL,
    payee_branch_code     TEXT NOT NULL,
    payee_account_type    TEXT NOT NULL,
    payee_account_number  TEXT NOT NULL,
    payee_name            TEXT NOT NULL,
    amount                BIGINT NOT NULL CHECK (amount > 0),
    execution_date        DATE NOT NULL,
    memo                  TEXT,
    status                TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    expires_at            TIMESTAMP NOT NULL,
    confirmed_at          TIMESTAMP,
    confirmation_method   TEXT,
    confirmed_step        BIGINT,
    cancelled_at          TIMESTAMP,
    cancelled_by          TEXT,
    UNIQUE (created_by, idempotency_key)
);
CREATE INDEX transfers_company_created ON transfers (company_id, created_at, id);

CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at  TIMESTAMP NOT NULL,
    company_id   TEXT,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    outcome      TEXT NOT NULL,
    flagged      BOOLEAN NOT NULL DEFAULT FALSE,
    client_addr  TEXT,
    detail       TEXT
);
CREATE INDEX audit_events_company ON audit_events (company_id, id);

-- The audit log is append-only, whatever the application does.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
