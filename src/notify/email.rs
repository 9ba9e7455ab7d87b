//! The email channel: plain-text mail through lettre's async SMTP transport (STARTTLS, implicit
//! TLS, or plain text for a loopback host only), with credentials from the settings.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::EmailMessage;
use crate::config::{SmtpSettings, SmtpTls};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the email channel.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The settings cannot be used.
    #[error("email is misconfigured: {0}")]
    Config(String),
    /// The message could not be built (bad address or header).
    #[error("email could not be built: {0}")]
    Build(String),
    /// The SMTP exchange failed.
    #[error("smtp error: {message}")]
    Smtp {
        /// True when the server rejected the mail for good (5xx) or the client cannot proceed.
        permanent: bool,
        /// What happened.
        message: String,
    },
}

impl EmailError {
    /// Returns true when another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Config(_) | Self::Build(_) => false,
            Self::Smtp { permanent, .. } => !permanent,
        }
    }
}

impl From<lettre::transport::smtp::Error> for EmailError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Self::Smtp { permanent: e.is_permanent() || e.is_client(), message: e.to_string() }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends email to the configured recipients.
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender").field("from", &self.from).field("to", &self.to).finish_non_exhaustive()
    }
}

impl EmailSender {
    /// Builds a sender from the settings.
    ///
    /// # Errors
    /// Returns [`EmailError::Config`] for plain text to a non-loopback host, an unusable host, or
    /// addresses that do not parse.
    pub fn new(settings: &SmtpSettings) -> Result<Self, EmailError> {
        let host = settings.host.as_str();
        let builder = match settings.tls {
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| EmailError::Config(e.to_string()))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| EmailError::Config(e.to_string()))?,
            SmtpTls::None if is_loopback(host) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            }
            SmtpTls::None => {
                return Err(EmailError::Config("SMTP_TLS=none is allowed only for a loopback host".into()));
            }
        };
        let mut builder = builder.port(settings.port).timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(pass)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_owned()));
        }
        let parse = |a: &str| a.parse::<Mailbox>().map_err(|e| EmailError::Config(format!("`{a}`: {e}")));
        let from = parse(&settings.from)?;
        let to = settings.to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(EmailError::Config("no recipient (SMTP_TO)".into()));
        }
        Ok(Self { transport: builder.build(), from, to })
    }

    /// Sends one message.
    ///
    /// # Errors
    /// Returns an [`EmailError`]; see [`EmailError::is_retryable`].
    pub async fn send(&self, msg: &EmailMessage) -> Result<(), EmailError> {
        let mut b = Message::builder().from(self.from.clone()).subject(msg.subject.clone());
        for to in &self.to {
            b = b.to(to.clone());
        }
        let mail = b
            .header(ContentType::TEXT_PLAIN)
            .body(msg.body.clone())
            .map_err(|e| EmailError::Build(e.to_string()))?;
        self.transport.send(mail).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str, tls: SmtpTls) -> SmtpSettings {
        SmtpSettings {
            host: host.into(),
            port: 2525,
            tls,
            username: None,
            password: None,
            from: "aegis@example.com".into(),
            to: vec!["ops@example.com".into()],
        }
    }

    #[test]
    fn plain_text_only_for_loopback() {
        assert!(EmailSender::new(&settings("127.0.0.1", SmtpTls::None)).is_ok());
        assert!(EmailSender::new(&settings("localhost", SmtpTls::None)).is_ok());
        assert!(matches!(
            EmailSender::new(&settings("smtp.example.com", SmtpTls::None)),
            Err(EmailError::Config(_))
        ));
        assert!(EmailSender::new(&settings("smtp.example.com", SmtpTls::StartTls)).is_ok());
        assert!(EmailSender::new(&settings("smtp.example.com", SmtpTls::Tls)).is_ok());
    }

    #[test]
    fn retryable_table() {
        assert!(!EmailError::Config("x".into()).is_retryable());
        assert!(!EmailError::Build("x".into()).is_retryable());
        assert!(EmailError::Smtp { permanent: false, message: "421".into() }.is_retryable());
        assert!(!EmailError::Smtp { permanent: true, message: "550".into() }.is_retryable());
    }
}
