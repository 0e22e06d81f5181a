-- Tokens as vendors ship them: counter-based HOTP beside TOTP (last_used_step is then the
-- last counter value spent), and a TOTP token's clock drift in time steps, from the
-- vendor's file or found by resynchronisation.
ALTER TABLE soft_tokens ADD COLUMN otp_kind TEXT NOT NULL DEFAULT 'totp'
    CHECK (otp_kind IN ('totp', 'hotp'));
ALTER TABLE soft_tokens ADD COLUMN time_drift BIGINT NOT NULL DEFAULT 0;
