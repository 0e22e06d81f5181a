ALTER TABLE soft_tokens DROP COLUMN time_drift;
ALTER TABLE soft_tokens DROP COLUMN otp_kind;
