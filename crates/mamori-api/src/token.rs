//! The token-facing API: what an authenticator app (or `mamori token`) calls. No bank key;
//! abuse is bounded per client, and failures tell a stranger nothing about a credential.

use mamori_crypto::DevicePublicKey;
use mamori_service::ServiceError;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};

use crate::bank::meta;
use crate::context::RequestContext;
use crate::errors::{ListCredentialBanksProblem, ProvisionCredentialProblem};
use crate::shape;
use crate::state::AppState;
use crate::timestamp::Timestamp;

#[derive(Tags)]
pub(crate) enum ApiTags {
    /// Operations for customers' tokens (no bank key).
    Token,
}

/// The Token API.
#[derive(Debug)]
pub struct TokenApi {
    state: AppState,
}

impl TokenApi {
    /// The Token API over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// What the token sends when it asks for a credential.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct ProvisionRequest {
    /// Mamori's own token: the Ed25519 public key of the device (32 bytes, base64url without
    /// padding: 43 characters; spaces around it trimmed; a malformed key is
    /// `validation_failed`). Registered with the credential, once and for good; push approvals must be
    /// signed with its private half. Omit it for any other RFC 6238 app.
    device_public_key: Option<shape::DeviceKey>,
}

/// A new soft credential. The secret is shown this once and never again.
#[derive(Debug, Object)]
struct ProvisionedDto {
    /// クレデンシャルID: what the customer types at their bank to register the token.
    credential_id: String,
    /// The shared secret, base32 (RFC 4648, no padding).
    secret: String,
    /// `otpauth://` URI for any RFC 6238 authenticator app (issuer Mamori, label = credential
    /// ID, SHA1, 6 digits, 30 s).
    otpauth_uri: String,
    /// The URI as a QR code (SVG) to scan with the app.
    qr_svg: String,
    /// HMAC algorithm.
    algorithm: String,
    /// Digits per code.
    digits: u8,
    /// Seconds per code.
    period: u32,
}

#[derive(ApiResponse)]
enum ProvisionResponse {
    /// The new credential, its secret shown this once.
    #[oai(status = 201)]
    Created(Json<ProvisionedDto>),
}

/// A fresh code of the token, proving the caller holds it.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct CredentialBanksRequest {
    /// The code the token shows now: 6 to 8 digits as a string; full-width digits and blanks
    /// are accepted. Its time step is spent: it cannot be used again, here or at any bank.
    otp: shape::Otp,
}

/// A bank's name in both languages.
#[derive(Debug, Object)]
struct BankNameDto {
    /// Japanese.
    ja: String,
    /// English.
    en: String,
}

/// Whether the token can be used at the bank.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum RegistrationStatusDto {
    /// 利用中: registered and usable.
    InUse,
    /// ロック中: locked after too many wrong codes; the bank unlocks.
    Locked,
}

/// One bank the token is registered at.
#[derive(Debug, Object)]
struct CredentialBankDto {
    /// The bank's ID.
    bank_id: String,
    /// The bank's name.
    bank_name: BankNameDto,
    /// `in_use` or `locked`.
    status: RegistrationStatusDto,
    /// When the token was registered at the bank (利用開始登録).
    registered_at: Timestamp,
}

/// Where a token is registered.
#[derive(Debug, Object)]
struct CredentialBanksDto {
    /// The token.
    credential_id: String,
    /// Every bank where the token is in use or locked, oldest registration first; empty when
    /// it is registered nowhere.
    banks: Vec<CredentialBankDto>,
}

#[derive(ApiResponse)]
enum CredentialBanksResponse {
    /// The banks the token is in use or locked at; the code is spent.
    #[oai(status = 200)]
    Ok(Json<CredentialBanksDto>),
}

#[OpenApi(tag = "ApiTags::Token")]
impl TokenApi {
    /// Provision a new soft token
    ///
    /// Creates a credential (ID, 160-bit secret) and returns it with an `otpauth://` URI and a
    /// QR code for any RFC 6238 authenticator app. The secret is returned this once; Mamori
    /// stores it only encrypted. Send `{}`, or `{"device_public_key": …}` from Mamori's own
    /// token to enable push approval. Limited per client (its address; behind the operator's
    /// trusted proxies, the address they report; an IPv6 client by its /64): `rate_limited`
    /// (429); a malformed key is `validation_failed` (400).
    #[oai(
        path = "/v1/token/credentials",
        method = "post",
        operation_id = "provisionCredential"
    )]
    async fn provision_credential(
        &self,
        ctx: RequestContext,
        body: Json<ProvisionRequest>,
    ) -> Result<ProvisionResponse, ProvisionCredentialProblem> {
        let device_key = match body
            .0
            .device_public_key
            .as_deref()
            .map(DevicePublicKey::parse)
        {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(e)) => {
                return Err(ProvisionCredentialProblem::from_error(
                    &ServiceError::invalid(format!("device_public_key: {e}")),
                    &ctx,
                ));
            }
        };
        self.state
            .services
            .provisioning
            .provision_credential(&meta(&ctx), device_key.as_ref())
            .await
            .map(|p| {
                ProvisionResponse::Created(Json(ProvisionedDto {
                    credential_id: p.credential_id,
                    secret: p.secret_base32,
                    otpauth_uri: p.otpauth_uri,
                    qr_svg: p.qr_svg,
                    algorithm: p.params.algorithm.as_str().to_owned(),
                    digits: p.params.digits.get(),
                    period: p.params.period.seconds(),
                }))
            })
            .map_err(|e| ProvisionCredentialProblem::from_error(&e, &ctx))
    }

    /// List the banks a token is registered at
    ///
    /// For the customer's own token app: every bank where this token is in use or locked, with
    /// the bank's names. Shown only after a fresh code of the token, which is checked with the
    /// platform's rules (one step either side of the token's learned clock) and spent on the
    /// whole platform, so the same code cannot then log in anywhere. No bank key: no bank can
    /// see another bank's registrations. Errors: `credential_id_malformed` (not 4 to 32
    /// letters and digits), `otp_malformed` (not 6 to 8 digits) (400); `otp_already_used`
    /// (409); `otp_invalid` (422: a wrong code, or no token with this ID or serial — one
    /// answer for both); `credential_suspended` (423, only with a right code); `rate_limited`
    /// (429: too many failed listings from this client within the hour; a successful listing
    /// does not count). Nothing here counts towards a lock, the platform-wide suspension or
    /// any quota of the credential: without a bank key, a stranger must not be able to
    /// suspend a customer's token, or use up its listings, by knowing its ID.
    #[oai(
        path = "/v1/token/credentials/:credential_id/banks",
        method = "post",
        operation_id = "listCredentialBanks"
    )]
    async fn list_credential_banks(
        &self,
        ctx: RequestContext,
        /// The token's credential ID (クレデンシャルID) or an imported token's serial, read like
        /// `registerCredential`'s.
        credential_id: Path<shape::CredentialName>,
        body: Json<CredentialBanksRequest>,
    ) -> Result<CredentialBanksResponse, ListCredentialBanksProblem> {
        let listed = self
            .state
            .services
            .token_banks
            .list_credential_banks(&meta(&ctx), &credential_id.0, &body.0.otp)
            .await
            .map_err(|e| ListCredentialBanksProblem::from_error(&e, &ctx))?;
        Ok(CredentialBanksResponse::Ok(Json(CredentialBanksDto {
            credential_id: listed.credential_id,
            banks: listed
                .banks
                .into_iter()
                .map(|bank| CredentialBankDto {
                    bank_id: bank.bank_id,
                    bank_name: BankNameDto {
                        ja: bank.bank_name_ja,
                        en: bank.bank_name_en,
                    },
                    status: if bank.locked {
                        RegistrationStatusDto::Locked
                    } else {
                        RegistrationStatusDto::InUse
                    },
                    registered_at: bank.registered_at.into(),
                })
                .collect(),
        })))
    }
}
