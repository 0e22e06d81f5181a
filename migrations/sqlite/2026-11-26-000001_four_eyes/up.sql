-- Four eyes: a company's approval policy, the approver permission, transfers waiting for
-- approvals with each decision recorded, and the bank's dual-control procedures.
ALTER TABLE companies ADD COLUMN approval_min_amount BIGINT CHECK (approval_min_amount >= 0);
ALTER TABLE companies ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 0
    CHECK (approvals_required BETWEEN 0 AND 2);
ALTER TABLE users ADD COLUMN can_approve BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE transfers ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transfers ADD COLUMN approvals_given INTEGER NOT NULL DEFAULT 0;

-- One decision per person and transfer: the unique index refuses a second one, even racing.
CREATE TABLE transfer_approvals (
    id           TEXT PRIMARY KEY,
    transfer_id  TEXT NOT NULL REFERENCES transfers (id),
    person_id    TEXT NOT NULL REFERENCES users (id),
    decision     TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    method       TEXT CHECK (method IN ('otp', 'transfer_password')),
    step         BIGINT,
    reason       TEXT,
    decided_at   TIMESTAMP NOT NULL,
    UNIQUE (transfer_id, person_id)
);

CREATE TABLE bank_procedures (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('admin_token_reset', 'token_suspend',
                       'token_reissue', 'contract_close', 'operator_unlock')),
    target_id      TEXT NOT NULL,
    company_id     TEXT REFERENCES companies (id),
    reason         TEXT NOT NULL,
    evidence       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'carried_out', 'rejected', 'expired')),
    requested_by   TEXT NOT NULL REFERENCES bank_operators (id),
    requested_at   TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    decided_by     TEXT REFERENCES bank_operators (id),
    decided_at     TIMESTAMP,
    decision_note  TEXT,
    -- Dual control holds even for whoever writes the database by hand.
    CHECK (decided_by IS NULL OR status = 'expired' OR decided_by <> requested_by)
);
CREATE INDEX bank_procedures_requested ON bank_procedures (requested_at, id);
