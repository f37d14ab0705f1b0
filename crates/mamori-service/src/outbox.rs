//! The outbox: mails written in the same unit of work as what they announce, delivered
//! afterwards by a [`MailTransport`] when one is configured (with claims, so two nodes never
//! send one twice, and a sweep that retries). Without a transport the outbox is the mailbox.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mamori_domain::TenantId;
use mamori_store::outbox::{self as stored, OutboxMailRow};

use crate::core::{BankCaller, Core};
use crate::error::ServiceError;
use crate::mail::{MailTransport, OutgoingMail};

/// How many outbox mails one delivery sweep takes on.
const SWEEP_BATCH: u64 = 100;

/// A mail in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The mail's ID (`mail_…`).
    pub id: String,
    /// The bank that sent it.
    pub tenant_id: String,
    /// The recipient's address.
    pub recipient: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When the mail server accepted it; `None` while unsent (always, without SMTP).
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxMailRow> for OutboxMail {
    fn from(row: OutboxMailRow) -> Self {
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            recipient: row.recipient,
            subject: row.subject,
            body: row.body,
            created_at: row.created_at,
            sent_at: row.sent_at,
        }
    }
}

/// The outbox and its delivery.
#[derive(Debug, Clone)]
pub struct Outbox {
    core: Core,
    mail: Option<Arc<dyn MailTransport>>,
}

impl Outbox {
    pub(crate) fn new(core: Core, mail: Option<Arc<dyn MailTransport>>) -> Self {
        Self { core, mail }
    }

    /// listOutboxMails: the bank's own mails, newest first.
    pub async fn list_outbox_mails(
        &self,
        caller: &BankCaller,
        limit: u64,
    ) -> Result<Vec<OutboxMail>, ServiceError> {
        self.outbox(Some(&caller.tenant_id), limit).await
    }

    /// The outbox of one bank or of all (the operator's `mamori outbox`), newest first.
    pub async fn outbox(
        &self,
        tenant: Option<&TenantId>,
        limit: u64,
    ) -> Result<Vec<OutboxMail>, ServiceError> {
        Ok(
            stored::list_mails(self.core.db(), tenant.map(TenantId::as_str), limit)
                .await?
                .into_iter()
                .map(OutboxMail::from)
                .collect(),
        )
    }

    /// Delivers one outbox mail if a transport is configured and this node wins the claim.
    /// Returns whether it was sent now. A failed delivery is recorded on the mail and left for
    /// the next sweep.
    pub async fn deliver_mail(&self, mail_id: &str) -> Result<bool, ServiceError> {
        let Some(transport) = self.mail.clone() else {
            return Ok(false);
        };
        let db = self.core.db();
        if !stored::claim_mail(db, mail_id, self.core.now()).await? {
            return Ok(false);
        }
        let Some(row) = stored::find_mail(db, mail_id).await? else {
            return Ok(false);
        };
        let mail = OutgoingMail {
            to: row.recipient,
            subject: row.subject,
            body: row.body,
        };
        match transport.send(&mail).await {
            Ok(()) => {
                stored::mark_sent(db, mail_id, self.core.now()).await?;
                tracing::info!(mail.id = %mail_id, tenant.id = %row.tenant_id, "mail sent");
                Ok(true)
            }
            Err(err) => {
                // The error may quote the recipient: it goes to the outbox row, not the log.
                stored::record_failure(db, mail_id, &err.to_string()).await?;
                tracing::warn!(
                    mail.id = %mail_id,
                    tenant.id = %row.tenant_id,
                    attempts = row.attempts,
                    "mail delivery failed; the next sweep retries it"
                );
                Ok(false)
            }
        }
    }

    /// Retries every unsent, unclaimed mail (serve runs this every 30 s when SMTP is
    /// configured). Returns how many were sent.
    pub async fn deliver_pending_mails(&self) -> Result<usize, ServiceError> {
        if self.mail.is_none() {
            return Ok(0);
        }
        let ids =
            stored::deliverable_mail_ids(self.core.db(), SWEEP_BATCH, self.core.now()).await?;
        let mut sent = 0;
        for id in ids {
            if self.deliver_mail(&id).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Whether outbox mails leave the machine.
    pub fn delivers_mail(&self) -> bool {
        self.mail.is_some()
    }

    /// Delivers a mail just written, without making its writer wait (the sweep retries it).
    pub(crate) fn deliver_in_background(&self, mail_id: &str) {
        if self.mail.is_none() {
            return;
        }
        let outbox = self.clone();
        let mail_id = mail_id.to_owned();
        tokio::spawn(async move {
            if let Err(err) = outbox.deliver_mail(&mail_id).await {
                tracing::warn!(mail.id = %mail_id, error = %err, "mail delivery deferred to the sweep");
            }
        });
    }
}
