//! One-time passwords: RFC 6238 TOTP / RFC 4226 HOTP codes and sealing of token seeds at rest.

pub mod pskc;
pub mod seal;
pub mod totp;
