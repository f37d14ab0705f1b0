//! The platform operator's actions on credentials, which belong to no single bank.

use mamori_domain::ErrorCode;
use mamori_otp::CredentialId;
use mamori_store::StoreError;
use mamori_store::audit::{self, NewAuditEvent, PLATFORM_TENANT};
use mamori_store::records;

use crate::{RequestMeta, ServiceError, Services};

const LIFT: &str = "liftCredentialSuspension";

/// A lifted suspension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspensionLifted {
    /// The credential, in its canonical form.
    pub credential_id: String,
    /// The banks whose audit trail recorded the lift (those the token is registered at).
    pub banks: Vec<String>,
}

impl Services {
    /// Lifts the platform-wide suspension of a credential (after [`crate::PLATFORM_GUESS_BUDGET`]
    /// wrong codes across banks), once an operator has satisfied themself that its owner holds
    /// it. The reason goes into the platform's audit trail and into the trail of every bank the
    /// token is registered at, in the same transaction as the lift.
    pub async fn lift_credential_suspension(
        &self,
        operator: &str,
        meta: &RequestMeta,
        credential_id: &str,
        reason: &str,
    ) -> Result<SuspensionLifted, ServiceError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ServiceError::invalid("reason: 1 to 500 characters"));
        }
        let id = CredentialId::parse(credential_id)
            .map_err(|_| ServiceError::rejected(ErrorCode::CredentialIdMalformed))?;
        let now = self.now();
        let txn = self.begin().await?;
        if records::find_credential(&txn, id.as_str()).await?.is_none() {
            return Err(ServiceError::rejected(ErrorCode::CredentialUnknown));
        }
        if !records::lift_suspension(&txn, id.as_str(), now).await? {
            return Err(ServiceError::invalid(format!(
                "credential {id} is not suspended"
            )));
        }
        let banks = records::banks_of_credential(&txn, id.as_str()).await?;
        let details = serde_json::json!({ "reason": reason });
        for tenant in std::iter::once(PLATFORM_TENANT).chain(banks.iter().map(String::as_str)) {
            audit::append(
                &txn,
                NewAuditEvent {
                    tenant_id: tenant.to_owned(),
                    actor: format!("operator:{operator}"),
                    operation: LIFT.into(),
                    outcome: "success".into(),
                    credential_id: Some(id.to_string()),
                    request_id: meta.request_id.clone(),
                    client_addr: meta.client_addr.clone(),
                    details: Some(details.clone()),
                    ..NewAuditEvent::default()
                },
                now,
            )
            .await?;
        }
        txn.commit().await.map_err(StoreError::from)?;
        tracing::info!(credential.id = %id, banks = banks.len(), "platform suspension lifted");
        Ok(SuspensionLifted {
            credential_id: id.to_string(),
            banks,
        })
    }
}
