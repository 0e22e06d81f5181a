-- Personal contracts (個人): a contract of one customer beside companies, sign-in challenges
-- for the code step, and tokens the bank suspends on a lost device.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'user', 'customer'));
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
