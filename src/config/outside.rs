//! How the service meets the outside world: HTTPS and people's certificates, and the
//! channels people and the bank's monitoring are told through.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, FileSettings, Source};

/// How people and the bank's monitoring are told of security events.
#[derive(Clone, Debug)]
pub struct NotificationSettings {
    /// `WEBFB_SMTP_URL` (`smtp://host:25`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://…`); without it no e-mail is written to the outbox.
    pub smtp_url: Option<SecretString>,
    /// `WEBFB_MAIL_FROM`.
    pub mail_from: String,
    /// How often each instance's dispatcher looks for due messages (`WEBFB_OUTBOX_MILLIS`,
    /// 200 by default; 0: no dispatcher in this instance).
    pub dispatch_every: Option<std::time::Duration>,
    /// Attempts before a message is dead (`WEBFB_OUTBOX_MAX_ATTEMPTS`, 8).
    pub max_attempts: i32,
    /// Per webhook delivery (`WEBFB_WEBHOOK_TIMEOUT_SECS`, 5).
    pub webhook_timeout: std::time::Duration,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            smtp_url: None,
            mail_from: "webfb <noreply@webfb.invalid>".into(),
            dispatch_every: None,
            max_attempts: 8,
            webhook_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// HTTPS and people's certificates (電子証明書); every file is PEM.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// `WEBFB_TLS_CERT` and `WEBFB_TLS_KEY`: the server speaks HTTPS; without them plain
    /// HTTP, for a TLS-terminating proxy.
    pub server: Option<(PathBuf, PathBuf)>,
    /// `WEBFB_CLIENT_CA`: the bank's CA that issues people's certificates.
    pub client_ca: Option<PathBuf>,
    /// `WEBFB_CLIENT_CRL`: its revocation list.
    pub client_crl: Option<PathBuf>,
    /// `WEBFB_CLIENT_CERT_HEADER`: the header in which a trusted proxy that verified the
    /// client's certificate passes it on (URL-encoded PEM, as nginx's
    /// `$ssl_client_escaped_cert`); believed only from `WEBFB_TRUSTED_PROXIES`.
    pub client_cert_header: Option<String>,
}

pub(super) fn tls(
    src: &Source,
    f: &FileSettings,
    trusted_proxies: &[ipnet::IpNet],
) -> Result<TlsSettings, ConfigError> {
    let path =
        |name: &'static str, file: &Option<String>| src.string(name, file).map(PathBuf::from);
    let tls = TlsSettings {
        server: match (
            path("WEBFB_TLS_CERT", &f.tls_cert),
            path("WEBFB_TLS_KEY", &f.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "WEBFB_TLS_CERT",
                    reason: "set both WEBFB_TLS_CERT and WEBFB_TLS_KEY, or neither".into(),
                });
            }
        },
        client_ca: path("WEBFB_CLIENT_CA", &f.client_ca),
        client_crl: path("WEBFB_CLIENT_CRL", &f.client_crl),
        client_cert_header: src.string("WEBFB_CLIENT_CERT_HEADER", &f.client_cert_header),
    };
    if tls.client_ca.is_some() && tls.server.is_none() && tls.client_cert_header.is_none() {
        return Err(ConfigError::Invalid {
            name: "WEBFB_CLIENT_CA",
            reason: "no certificate could ever arrive: serve HTTPS (WEBFB_TLS_CERT, WEBFB_TLS_KEY) or name the trusted proxy's header (WEBFB_CLIENT_CERT_HEADER)".into(),
        });
    }
    if tls.client_ca.is_none() && (tls.client_crl.is_some() || tls.client_cert_header.is_some()) {
        return Err(ConfigError::Invalid {
            name: "WEBFB_CLIENT_CA",
            reason: "a revocation list or a certificate header needs the CA that issues people's certificates".into(),
        });
    }
    if let Some(header) = &tls.client_cert_header {
        if trusted_proxies.is_empty() {
            return Err(ConfigError::Invalid {
                name: "WEBFB_CLIENT_CERT_HEADER",
                reason: "is believed only from WEBFB_TRUSTED_PROXIES, which is empty".into(),
            });
        }
        if actix_web::http::header::HeaderName::try_from(header.as_str()).is_err() {
            return Err(ConfigError::Invalid {
                name: "WEBFB_CLIENT_CERT_HEADER",
                reason: format!("{header:?} is not a header name"),
            });
        }
    }

    Ok(tls)
}

pub(super) fn notifications(
    src: &Source,
    f: &FileSettings,
) -> Result<NotificationSettings, ConfigError> {
    let dispatch_millis: u64 = src.number("WEBFB_OUTBOX_MILLIS", f.outbox_millis, 200)?;
    let defaults = NotificationSettings::default();
    let notifications = NotificationSettings {
        smtp_url: src
            .string("WEBFB_SMTP_URL", &f.smtp_url)
            .map(SecretString::from),
        mail_from: src
            .string("WEBFB_MAIL_FROM", &f.mail_from)
            .unwrap_or(defaults.mail_from),
        dispatch_every: (dispatch_millis > 0)
            .then(|| std::time::Duration::from_millis(dispatch_millis)),
        max_attempts: src.number(
            "WEBFB_OUTBOX_MAX_ATTEMPTS",
            f.outbox_max_attempts,
            defaults.max_attempts,
        )?,
        webhook_timeout: std::time::Duration::from_secs(src.number(
            "WEBFB_WEBHOOK_TIMEOUT_SECS",
            f.webhook_timeout_secs,
            5,
        )?),
    };
    if notifications.max_attempts < 1 {
        return Err(ConfigError::Invalid {
            name: "WEBFB_OUTBOX_MAX_ATTEMPTS",
            reason: "must be greater than zero".into(),
        });
    }
    if let Some(url) = &notifications.smtp_url {
        lettre::SmtpTransport::from_url(url.expose_secret()).map_err(|_| ConfigError::Invalid {
            name: "WEBFB_SMTP_URL",
            reason: "not an SMTP URL (smtp://host:port, smtps://…)".into(),
        })?;
    }
    if notifications
        .mail_from
        .parse::<lettre::message::Mailbox>()
        .is_err()
    {
        return Err(ConfigError::Invalid {
            name: "WEBFB_MAIL_FROM",
            reason: "not a mailbox (webfb <noreply@bank.example>)".into(),
        });
    }
    Ok(notifications)
}
