//! Mail delivery: the adapter point between the outbox and a mail server.
//!
//! Mails are written to the outbox in the same transaction as what they announce; a
//! [`MailTransport`], when one is configured, delivers them afterwards. Without one the outbox
//! is the mailbox (`mamori outbox`, `listOutboxMails`) and nothing leaves the machine.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// A mail ready to hand to a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// Why a mail was not delivered. The text may quote the mail server (and so the recipient's
/// address): it is kept in the outbox for the operator, never logged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Something that delivers mails: SMTP in production, anything else in tests.
#[async_trait::async_trait]
pub trait MailTransport: Send + Sync + std::fmt::Debug {
    /// Delivers one mail; `Ok` once the server accepted it.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}

/// Delivery over SMTP (lettre), configured by a URL such as `smtp://relay:25`,
/// `smtp://user:pass@relay:587?tls=required` or `smtps://relay:465`.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    // The URL may carry the relay's password; only the sender is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// An SMTP transport for `url`, sending as `from` (e.g. `Mamori <no-reply@example.jp>`).
    pub fn from_url(url: &str, from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError(format!("mail sender {from:?}: {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError(format!("SMTP URL: {e}")))?
            // A relay that hangs must not hold a claimed mail for ever; the sweep retries.
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self { transport, from })
    }
}

#[async_trait::async_trait]
impl MailTransport for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError(format!("recipient: {e}")))?;
        // Quoted-printable keeps the ASCII parts (service ID, user ID, the command) readable in
        // the raw mail, which helps support staff reading a bounced copy.
        let body =
            Body::new_with_encoding(mail.body.clone(), ContentTransferEncoding::QuotedPrintable)
                .map_err(|_| MailError("body cannot be encoded".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError(format!("message: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError(e.to_string()))
    }
}

/// Whether `address` is a mail address lettre can deliver to.
pub fn is_mail_address(address: &str) -> bool {
    address.len() <= 254 && address.parse::<lettre::Address>().is_ok()
}
