DROP TABLE sign_in_challenges;
ALTER TABLE soft_tokens DROP COLUMN suspended_at;
DROP INDEX companies_kind;
ALTER TABLE companies DROP COLUMN closed_at;
ALTER TABLE companies DROP COLUMN kind;
DROP INDEX users_one_customer_per_contract;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'user'));
