//! The platform operator's actions on credentials, which belong to no single bank.

use mamori_domain::{ErrorCode, Operation};
use mamori_otp::TypedCredentialId;
use mamori_store::audit::PLATFORM_TENANT;
use mamori_store::{bindings, credentials};
use serde_json::json;

use crate::core::audit::AuditEntry;
use crate::core::{Core, RequestMeta};
use crate::error::ServiceError;

/// A lifted suspension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspensionLifted {
    /// The credential, in its canonical form.
    pub credential_id: String,
    /// The banks whose audit trail recorded the lift (those the token is registered at).
    pub banks: Vec<String>,
}

/// The platform operator's actions.
#[derive(Debug, Clone)]
pub struct Platform {
    core: Core,
}

impl Platform {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    /// Lifts the platform-wide suspension of a credential (after
    /// [`crate::PLATFORM_GUESS_BUDGET`] wrong codes across banks), once an operator has
    /// satisfied themself that its owner holds it. The reason goes into the platform's audit
    /// trail and into the trail of every bank the token is registered at, in the same unit of
    /// work as the lift.
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
        // A Mamori ID or an imported token's serial.
        let name = TypedCredentialId::parse(credential_id)
            .map_err(|_| ServiceError::rejected(ErrorCode::CredentialIdMalformed))?;
        let id = name.as_str();
        let now = self.core.now();
        let tx = self.core.write().await?;
        if credentials::find_credential(&tx, id).await?.is_none() {
            return Err(ServiceError::rejected(ErrorCode::CredentialUnknown));
        }
        if !credentials::lift_suspension(&tx, id, now).await? {
            return Err(ServiceError::invalid(format!(
                "credential {id} is not suspended"
            )));
        }
        let banks = bindings::banks_of_credential(&tx, self.core.account_mac().await?, id).await?;
        for tenant in std::iter::once(PLATFORM_TENANT).chain(banks.iter().map(String::as_str)) {
            AuditEntry::operator(
                operator,
                tenant,
                meta,
                Operation::LiftCredentialSuspension,
                now,
            )
            .credential(id)
            .details(json!({ "reason": reason }))
            .append(&tx)
            .await?;
        }
        tx.commit().await?;
        tracing::info!(credential.id = %id, banks = banks.len(), "platform suspension lifted");
        Ok(SuspensionLifted {
            credential_id: id.to_owned(),
            banks,
        })
    }
}
