//! The bank's rules that an operator may tune, and their checks.

use super::ConfigError;

/// The bank's rules that an operator may tune.
#[derive(Clone, Debug)]
pub struct Policy {
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
    pub login_lockout_threshold: i32,
    pub approval_lockout_threshold: i32,
    pub transfer_password_lockout_threshold: i32,
    pub otp_lockout_threshold: i32,
    /// Steps accepted either side of the current one.
    pub otp_window: u32,
    /// HOTP: counter values a code may be ahead of the last one accepted.
    pub hotp_look_ahead: u32,
    /// Resynchronisation: steps (TOTP) either side, or counter values (HOTP) ahead,
    /// searched for two consecutive codes.
    pub resync_search: u32,
    pub otp_issuer: String,
    pub unregistered_token_ttl_secs: i64,
    pub transfer_ttl_secs: i64,
    /// How long a confirmed transfer waits for its approvers before it expires.
    pub approval_ttl_secs: i64,
    /// How long a bank procedure waits for a second operator before it expires.
    pub procedure_ttl_secs: i64,
    /// How long each sign-in lock in a row lasts; the lock after the last is permanent.
    pub login_lock_durations: Vec<chrono::Duration>,
    /// Password and code checks one client address may make per minute.
    pub checks_per_addr_per_minute: u32,
    /// Password and code checks per minute against one login ID or one signed-in person.
    pub checks_per_subject_per_minute: u32,
    /// Issued tokens a company may have waiting for registration at once.
    pub max_pending_tokens: i64,
    /// Where codes are asked, per contract kind (SPEC §3, rule 8).
    pub corporate: CodesAsked,
    pub personal: CodesAsked,
    /// How long the code step of a sign-in may follow the password.
    pub sign_in_challenge_secs: i64,
}

/// Where one kind of contract is asked for a code: at sign-in (`otp_at_login`) and to
/// confirm transactions (`otp_for_transactions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodesAsked {
    pub at_sign_in: bool,
    pub for_transactions: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            // PSD2 RTS Art. 4(3)(d): at most five minutes without activity.
            session_idle_secs: 5 * 60,
            session_absolute_secs: 8 * 60 * 60,
            login_lockout_threshold: 5,
            approval_lockout_threshold: 5,
            transfer_password_lockout_threshold: 5,
            otp_lockout_threshold: 5,
            otp_window: 1,
            hotp_look_ahead: 10,
            // An hour of 30-second steps either way (codes older than that never come back
            // to life through a resynchronisation); 120 presses of an HOTP button.
            resync_search: 120,
            otp_issuer: "webfb".to_owned(),
            unregistered_token_ttl_secs: 7 * 24 * 60 * 60,
            transfer_ttl_secs: 10 * 60,
            approval_ttl_secs: 24 * 60 * 60,
            procedure_ttl_secs: 24 * 60 * 60,
            login_lock_durations: vec![chrono::Duration::minutes(15), chrono::Duration::hours(1)],
            checks_per_addr_per_minute: 60,
            checks_per_subject_per_minute: 10,
            max_pending_tokens: 10,
            // Seed 002, Q3: companies sign in without a code; personal customers with one.
            corporate: CodesAsked {
                at_sign_in: false,
                for_transactions: true,
            },
            personal: CodesAsked {
                at_sign_in: true,
                for_transactions: true,
            },
            sign_in_challenge_secs: 120,
        }
    }
}

impl Policy {
    pub fn codes_asked(&self, kind: crate::domain::ContractKind) -> CodesAsked {
        match kind {
            crate::domain::ContractKind::Corporate => self.corporate,
            crate::domain::ContractKind::Personal => self.personal,
        }
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("WEBFB_SESSION_IDLE_SECS", self.session_idle_secs),
            ("WEBFB_SESSION_ABSOLUTE_SECS", self.session_absolute_secs),
            (
                "WEBFB_LOGIN_LOCKOUT_THRESHOLD",
                self.login_lockout_threshold.into(),
            ),
            (
                "WEBFB_APPROVAL_LOCKOUT_THRESHOLD",
                self.approval_lockout_threshold.into(),
            ),
            (
                "WEBFB_TRANSFER_PASSWORD_LOCKOUT_THRESHOLD",
                self.transfer_password_lockout_threshold.into(),
            ),
            (
                "WEBFB_OTP_LOCKOUT_THRESHOLD",
                self.otp_lockout_threshold.into(),
            ),
            (
                "WEBFB_UNREGISTERED_TOKEN_TTL_SECS",
                self.unregistered_token_ttl_secs,
            ),
            ("WEBFB_TRANSFER_TTL_SECS", self.transfer_ttl_secs),
            ("WEBFB_APPROVAL_TTL_SECS", self.approval_ttl_secs),
            ("WEBFB_PROCEDURE_TTL_SECS", self.procedure_ttl_secs),
            (
                "WEBFB_CHECKS_PER_ADDR_PER_MINUTE",
                self.checks_per_addr_per_minute.into(),
            ),
            (
                "WEBFB_CHECKS_PER_SUBJECT_PER_MINUTE",
                self.checks_per_subject_per_minute.into(),
            ),
            ("WEBFB_MAX_PENDING_TOKENS", self.max_pending_tokens),
            ("WEBFB_SIGN_IN_CHALLENGE_SECS", self.sign_in_challenge_secs),
        ];
        for (name, value) in positive {
            if value <= 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be greater than zero".into(),
                });
            }
        }
        if self.otp_window > 10 {
            return Err(ConfigError::Invalid {
                name: "WEBFB_OTP_WINDOW",
                reason: "at most 10 steps".into(),
            });
        }
        if !(1..=100).contains(&self.hotp_look_ahead) {
            return Err(ConfigError::Invalid {
                name: "WEBFB_HOTP_LOOK_AHEAD",
                reason: "1 to 100 counter values".into(),
            });
        }
        if !(1..=100_000).contains(&self.resync_search) {
            return Err(ConfigError::Invalid {
                name: "WEBFB_RESYNC_SEARCH",
                reason: "1 to 100000".into(),
            });
        }
        Ok(())
    }
}

/// Durations written `15m,1h` (units s, m, h, d; a bare number is seconds); empty: the first
/// lock is permanent.
pub(super) fn durations(
    name: &'static str,
    text: &str,
) -> Result<Vec<chrono::Duration>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (number, unit) =
                d.split_at(d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len()));
            let n: i64 = number.parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{d:?} is not a duration like 15m or 1h"),
            })?;
            let seconds = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => {
                    return Err(ConfigError::Invalid {
                        name,
                        reason: format!("{d:?}: the unit is s, m, h or d"),
                    });
                }
            };
            match n.checked_mul(seconds) {
                Some(secs) if secs > 0 => Ok(chrono::Duration::seconds(secs)),
                _ => Err(ConfigError::Invalid {
                    name,
                    reason: format!("{d:?} must be a positive duration"),
                }),
            }
        })
        .collect()
}
