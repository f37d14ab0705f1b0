//! 取引認証: a fresh OTP for a transfer, a Pay-easy payment, a deposit or savings cancellation,
//! a limit or contract change — checked, counted and spent like a login code, and answered with
//! a receipt that carries the transaction's hash.

use mamori_domain::Operation;
use mamori_domain::policy::AuthMethod;
use mamori_domain::transaction::Transaction;

use crate::core::{BankCaller, Core, RequestMeta};
use crate::error::ServiceError;
use crate::otp::BankOtp;
use crate::receipts::Receipts;

/// An accepted transaction code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionApproved {
    /// The credential that produced the code.
    pub credential_id: String,
    /// SHA-256 of the canonical transaction (hex).
    pub transaction_hash: String,
    /// The signed receipt (JWT).
    pub receipt: String,
}

/// Transaction authentication with an OTP.
#[derive(Debug, Clone)]
pub struct Transactions {
    core: Core,
    otp: BankOtp,
    receipts: Receipts,
}

impl Transactions {
    pub(crate) fn new(core: Core, otp: BankOtp, receipts: Receipts) -> Self {
        Self {
            core,
            otp,
            receipts,
        }
    }

    /// verifyTransactionOtp.
    pub async fn verify_transaction_otp(
        &self,
        caller: &BankCaller,
        meta: &RequestMeta,
        user_id: &str,
        code: &str,
        transaction: &Transaction,
    ) -> Result<TransactionApproved, ServiceError> {
        transaction
            .validate()
            .map_err(|e| ServiceError::invalid(format!("transaction.{e}")))?;
        let policy = self.core.policy(caller).await?;
        if policy.transaction_method(transaction.kind) == AuthMethod::Push {
            return Err(ServiceError::invalid(format!(
                "transaction.kind: this bank approves {} by push approval, not by OTP",
                transaction.kind.as_str()
            )));
        }
        let hash = transaction.hash();
        let accepted = self
            .otp
            .check_code_for(
                caller,
                meta,
                user_id,
                code,
                Operation::VerifyTransactionOtp,
                Some(&hash),
            )
            .await?;
        let receipt = self
            .receipts
            .transaction_receipt(caller, user_id, &["otp"], accepted.accepted_at, transaction)
            .await?;
        Ok(TransactionApproved {
            credential_id: accepted.credential_id,
            transaction_hash: hash,
            receipt,
        })
    }
}
