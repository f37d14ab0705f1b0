//! The token-facing API: what an authenticator app (or `mamori token`) calls. No bank key;
//! abuse is bounded per client address.

use mamori_crypto::DevicePublicKey;
use mamori_service::ServiceError;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::bank::meta;
use crate::context::RequestContext;
use crate::errors::TokenProblem;
use crate::state::AppState;
use crate::strict::StrictString;

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
struct ProvisionRequest {
    /// Mamori's own token: the Ed25519 public key of the device (32 bytes, base64url without
    /// padding). Registered with the credential, once and for good; push approvals must be
    /// signed with its private half. Omit it for any other RFC 6238 app.
    device_public_key: Option<StrictString>,
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
    /// The new credential.
    #[oai(status = 201)]
    Created(Json<ProvisionedDto>),
}

#[OpenApi(tag = "ApiTags::Token")]
impl TokenApi {
    /// Provision a new soft token
    ///
    /// Creates a credential (ID, 160-bit secret) and returns it with an `otpauth://` URI and a
    /// QR code for any RFC 6238 authenticator app. The secret is returned this once; Mamori
    /// stores it only encrypted. Send `{}`, or `{"device_public_key": …}` from Mamori's own
    /// token to enable push approval. Limited per client address: `rate_limited` (429); a
    /// malformed key is `validation_failed` (400).
    #[oai(
        path = "/v1/token/credentials",
        method = "post",
        operation_id = "provisionCredential"
    )]
    async fn provision_credential(
        &self,
        ctx: RequestContext,
        body: Json<ProvisionRequest>,
    ) -> Result<ProvisionResponse, TokenProblem> {
        let device_key = match body
            .0
            .device_public_key
            .as_deref()
            .map(DevicePublicKey::parse)
        {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(e)) => {
                return Err(TokenProblem::from_error(
                    &ServiceError::invalid(format!("device_public_key: {e}")),
                    &ctx,
                ));
            }
        };
        self.state
            .services
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
            .map_err(|e| TokenProblem::from_error(&e, &ctx))
    }
}
