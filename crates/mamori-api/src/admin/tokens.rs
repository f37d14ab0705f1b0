//! Hardware tokens in the admin console: importing a vendor's seed file (PSKC or CSV).

use mamori_domain::CredentialKind;
use mamori_service::{SeedFile, SeedFormat, SeedImport};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::admin::{AdminSession, AdminTags, meta};
use crate::context::RequestContext;
use crate::errors::ImportTokensProblem;
use crate::state::AppState;
use crate::strict::StrictString;

/// The largest request body of an import (the file travels inside JSON, a little larger than
/// on disk): room for the 10,000 tokens one import takes, in PSKC.
pub const IMPORT_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The import route, whose body may be larger than any other's.
pub const IMPORT_PATH: &str = "/v1/admin/token-imports";

/// Hardware token imports.
#[derive(Debug)]
pub struct AdminTokensApi {
    state: AppState,
}

impl AdminTokensApi {
    /// Over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// A seed file's format.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum AdminSeedFormat {
    /// PSKC, RFC 6030 (`.pskcxml`, `.xml`): plain, or encrypted with a pre-shared AES key.
    Pskc,
    /// CSV with a header line `serial,secret,type,digits,period` (`secret` base32, or a
    /// `secret_hex` column instead; optional `counter` and `algorithm` columns).
    Csv,
}

/// A seed file to import.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub(crate) struct AdminTokenImportRequest {
    /// The file's format.
    format: AdminSeedFormat,
    /// The file's text.
    content: StrictString,
    /// For a PSKC file with encrypted key packages: the pre-shared key the vendor sent
    /// separately, as 32, 48 or 64 hex digits. Never stored or logged.
    #[oai(write_only)]
    pre_shared_key: Option<StrictString>,
    /// Check the file and list its tokens, storing nothing.
    #[oai(default)]
    check_only: bool,
}

/// A token of the file.
#[derive(Debug, Object)]
struct AdminImportedToken {
    /// The line of the file it is on.
    line: u32,
    /// Its credential ID: the serial printed on the token.
    credential_id: String,
    /// `totp` or `hotp`.
    kind: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    algorithm: String,
    /// Digits per code.
    digits: u8,
    /// TOTP time step in seconds.
    #[oai(skip_serializing_if_is_none)]
    period: Option<u32>,
}

/// What an import did.
#[derive(Debug, Object)]
struct AdminTokenImport {
    /// Whether the tokens were stored (`false` when only checking).
    stored: bool,
    /// How many tokens the file holds.
    count: u32,
    /// SHA-256 of the file (hex), as each token's audit entry records it.
    file_sha256: String,
    /// The tokens, in file order.
    tokens: Vec<AdminImportedToken>,
}

impl From<SeedImport> for AdminTokenImport {
    fn from(import: SeedImport) -> Self {
        Self {
            stored: import.stored,
            count: u32::try_from(import.tokens.len()).unwrap_or(u32::MAX),
            file_sha256: import.file_sha256,
            tokens: import
                .tokens
                .into_iter()
                .map(|t| AdminImportedToken {
                    line: t.line,
                    credential_id: t.credential_id,
                    kind: t.kind.as_str().into(),
                    algorithm: t.params.algorithm.as_str().into(),
                    digits: t.params.digits.get(),
                    period: (t.kind == CredentialKind::Totp).then(|| t.params.period.seconds()),
                })
                .collect(),
        }
    }
}

#[derive(ApiResponse)]
enum ImportResponse {
    /// Imported (or, checking only, importable).
    #[oai(status = 200)]
    Ok(Json<AdminTokenImport>),
}

#[OpenApi(tag = "AdminTags::Admin")]
impl AdminTokensApi {
    /// Import hardware tokens from a seed file
    ///
    /// Platform admins only. Every token of the file is imported, or none: a file with any
    /// fault is refused with `import_invalid` and `errors` listing each fault with its line
    /// (a serial taken already, a wrong pre-shared key, an unsupported algorithm …). No
    /// message ever quotes the file. Each token's credential ID is its serial. Each imported
    /// token gets an `importCredential` entry in the platform's audit trail with the file's
    /// SHA-256. At most 10,000 tokens per file.
    #[oai(
        path = "/v1/admin/token-imports",
        method = "post",
        operation_id = "importTokens"
    )]
    async fn import(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        body: Json<AdminTokenImportRequest>,
    ) -> Result<ImportResponse, ImportTokensProblem> {
        let file = SeedFile {
            format: match body.format {
                AdminSeedFormat::Pskc => SeedFormat::Pskc,
                AdminSeedFormat::Csv => SeedFormat::Csv,
            },
            text: &body.content,
            psk_hex: body.pre_shared_key.as_deref(),
            check_only: body.check_only,
        };
        self.state
            .services
            .provisioning
            .import_seed_file(&session.0, &meta(&ctx), &file)
            .await
            .map(|import| ImportResponse::Ok(Json(import.into())))
            .map_err(|e| ImportTokensProblem::from_error(&e, &ctx))
    }
}
