//! The audit trails in the admin console: a bank's (or the platform's) entries filtered and
//! paged, the hash chain checked, the whole filtered trail exported as CSV or JSON (streamed,
//! page by page, never loaded at once), and the outbox.

use chrono::{DateTime, Utc};
use mamori_domain::{AuditOutcome, Operation, TenantId};
use mamori_service::{
    AuditFilter, AuditRecord, ChainStatus, OperatorCaller, OutboxMail, ServiceError, Trails,
};
use poem::Body;
use poem_openapi::param::Query;
use poem_openapi::payload::{Binary, Json, Payload};
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::admin::{AdminSession, AdminTags};
use crate::context::RequestContext;
use crate::errors::{
    AuditExportProblem, ListAdminAuditEventsProblem, ListAdminOutboxProblem,
    VerifyAdminAuditChainProblem,
};
use crate::state::AppState;
use crate::timestamp::Timestamp;

/// The most entries one export streams.
const EXPORT_LIMIT: usize = 1_000_000;

/// Trails in the console.
#[derive(Debug)]
pub struct AdminTrailsApi {
    state: AppState,
}

impl AdminTrailsApi {
    /// Over the given state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// One audit entry.
#[derive(Debug, Object)]
pub(crate) struct AdminAuditEventDto {
    /// Position in its trail's hash chain, from 1.
    seq: i64,
    /// When it happened.
    occurred_at: Timestamp,
    /// Who acted (`bank:<api key id>`, `operator:<login>`, `token`, `system`).
    actor: String,
    /// The operation.
    operation: String,
    /// `success` or `failure`.
    outcome: String,
    /// The error code of a failure.
    #[oai(skip_serializing_if_is_none)]
    error_code: Option<String>,
    /// The user concerned.
    #[oai(skip_serializing_if_is_none)]
    user_id: Option<String>,
    /// The credential concerned.
    #[oai(skip_serializing_if_is_none)]
    credential_id: Option<String>,
    /// The request's ID.
    #[oai(skip_serializing_if_is_none)]
    request_id: Option<String>,
    /// The client's address.
    #[oai(skip_serializing_if_is_none)]
    client_addr: Option<String>,
    /// Extra facts (JSON text): an operator's reason, a learned drift, a policy diff.
    #[oai(skip_serializing_if_is_none)]
    details: Option<String>,
    /// This entry's hash in the chain.
    hash: String,
}

impl From<AuditRecord> for AdminAuditEventDto {
    fn from(e: AuditRecord) -> Self {
        Self {
            seq: e.seq,
            occurred_at: e.occurred_at.into(),
            actor: e.actor,
            operation: e.operation.as_str().into(),
            outcome: e.outcome.as_str().into(),
            error_code: e.error_code,
            user_id: e.user_id,
            credential_id: e.credential_id,
            request_id: e.request_id,
            client_addr: e.client_addr,
            details: e.details,
            hash: e.hash,
        }
    }
}

/// A page of a trail.
#[derive(Debug, Object)]
struct AdminAuditPage {
    /// Newest first.
    items: Vec<AdminAuditEventDto>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    #[oai(skip_serializing_if_is_none)]
    next_cursor: Option<String>,
}

/// The result of checking a trail's hash chain.
#[derive(Debug, Object)]
struct ChainDto {
    /// Whether every entry is present and unaltered.
    intact: bool,
    /// Entries checked (when intact).
    #[oai(skip_serializing_if_is_none)]
    entries: Option<u64>,
    /// The first sequence number that does not check out.
    #[oai(skip_serializing_if_is_none)]
    broken_at_seq: Option<i64>,
    /// Why.
    #[oai(skip_serializing_if_is_none)]
    reason: Option<String>,
}

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    /// Comma-separated, UTF-8 with a BOM (opens in spreadsheet programs), a header row.
    Csv,
    /// A JSON array of entries.
    Json,
}

/// One mail of the outbox.
#[derive(Debug, Object)]
struct AdminOutboxMailDto {
    /// `mail_…`.
    id: String,
    /// The bank that sent it.
    bank_id: String,
    /// To.
    recipient: String,
    /// Subject.
    subject: String,
    /// The plain-text body.
    body: String,
    /// When written.
    created_at: Timestamp,
    /// When the mail server accepted it (never, without SMTP).
    #[oai(skip_serializing_if_is_none)]
    sent_at: Option<Timestamp>,
}

impl From<OutboxMail> for AdminOutboxMailDto {
    fn from(m: OutboxMail) -> Self {
        Self {
            id: m.id,
            bank_id: m.tenant_id,
            recipient: m.recipient,
            subject: m.subject,
            body: m.body,
            created_at: m.created_at.into(),
            sent_at: m.sent_at.map(Timestamp),
        }
    }
}

/// The outbox.
#[derive(Debug, Object)]
struct AdminOutbox {
    /// Newest first.
    items: Vec<AdminOutboxMailDto>,
}

#[derive(ApiResponse)]
enum AuditPageResponse {
    /// A page of the trail's entries, newest first.
    #[oai(status = 200)]
    Ok(Json<AdminAuditPage>),
}

#[derive(ApiResponse)]
enum ChainResponse {
    /// The trail's chain check: intact, or where it breaks.
    #[oai(status = 200)]
    Ok(Json<ChainDto>),
}

// Both exports stream a body built page by page, and are documented as what the body is: CSV
// text, and an array of `AdminAuditEventDto`. Documented as `format: binary`, client
// generators read them as opaque bytes (openapi-python-client 0.29 then wraps the text in a
// `BytesIO` and fails at run time) and the JSON export loses its type.

#[derive(ApiResponse)]
enum CsvExportResponse {
    /// The entries as CSV.
    #[oai(status = 200, actual_type = "CsvText")]
    Ok(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

#[derive(ApiResponse)]
enum JsonExportResponse {
    /// The entries as a JSON array.
    #[oai(status = 200, actual_type = "Json<Vec<AdminAuditEventDto>>")]
    Ok(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

/// How the CSV export is documented and labelled: UTF-8 text (a plain `string`).
struct CsvText;

impl Payload for CsvText {
    const CONTENT_TYPE: &'static str = "text/csv; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        <String as Type>::schema_ref()
    }
}

#[derive(ApiResponse)]
enum OutboxResponse {
    /// The outbox's mails, newest first.
    #[oai(status = 200)]
    Ok(Json<AdminOutbox>),
}

/// The filters of an audit query, from the query string.
fn audit_query(
    user_id: Option<String>,
    credential_id: Option<String>,
    operation: Option<String>,
    outcome: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<AuditFilter, ServiceError> {
    let operation = operation
        .filter(|o| !o.is_empty())
        .map(|o| {
            Operation::parse(&o)
                .ok_or_else(|| ServiceError::invalid(format!("operation: unknown {o:?}")))
        })
        .transpose()?;
    let outcome = outcome
        .filter(|o| !o.is_empty())
        .map(|o| {
            AuditOutcome::parse(&o)
                .ok_or_else(|| ServiceError::invalid("outcome: success or failure"))
        })
        .transpose()?;
    Ok(AuditFilter {
        user_id: user_id.filter(|u| !u.is_empty()),
        credential_id: credential_id.filter(|c| !c.is_empty()),
        operation,
        outcome,
        from,
        to,
    })
}

/// A CSV cell: quoted when needed, and a leading `= + - @` neutralised so a spreadsheet never
/// runs an entry as a formula.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn csv_row(e: &AuditRecord) -> String {
    let cells = [
        e.seq.to_string(),
        e.occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.actor.clone(),
        e.operation.as_str().to_owned(),
        e.outcome.as_str().to_owned(),
        e.error_code.clone().unwrap_or_default(),
        e.user_id.clone().unwrap_or_default(),
        e.credential_id.clone().unwrap_or_default(),
        e.request_id.clone().unwrap_or_default(),
        e.client_addr.clone().unwrap_or_default(),
        e.details.clone().unwrap_or_default(),
        e.hash.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

const CSV_HEADER: &str = "\u{feff}seq,occurred_at,actor,operation,outcome,error_code,user_id,credential_id,request_id,client_addr,details,hash\r\n";

/// The export as a stream of pages: the body is written while the trail is read, 200 entries
/// at a time, so an export of a busy bank never sits in memory.
fn export_body(
    trails: Trails,
    caller: OperatorCaller,
    trail: String,
    query: AuditFilter,
    format: ExportFormat,
) -> Body {
    use futures_util::stream::{self, StreamExt};
    struct Cursor {
        before: Option<i64>,
        sent: usize,
        first: bool,
        done: bool,
    }
    let start = Cursor {
        before: None,
        sent: 0,
        first: true,
        done: false,
    };
    let pages = stream::unfold(start, move |mut cur| {
        let (trails, caller, trail, query) =
            (trails.clone(), caller.clone(), trail.clone(), query.clone());
        async move {
            if cur.done {
                return None;
            }
            let mut chunk = String::new();
            if cur.first {
                chunk.push_str(match format {
                    ExportFormat::Csv => CSV_HEADER,
                    ExportFormat::Json => "[",
                });
            }
            let page = match trails
                .audit_page(&caller, &trail, &query, cur.before, 200)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    return Some((
                        Err(std::io::Error::other(err.to_string())),
                        Cursor { done: true, ..cur },
                    ));
                }
            };
            for e in &page {
                match format {
                    ExportFormat::Csv => chunk.push_str(&csv_row(e)),
                    ExportFormat::Json => {
                        if !(cur.first && cur.sent == 0) {
                            chunk.push(',');
                        }
                        let dto = AdminAuditEventDto::from(e.clone());
                        chunk.push_str(&poem_openapi::types::ToJSON::to_json_string(&dto));
                        cur.sent += 1;
                        cur.first = false;
                        continue;
                    }
                }
                cur.sent += 1;
            }
            cur.first = false;
            cur.before = page.last().map(|e| e.seq);
            if page.len() < 200 || cur.sent >= EXPORT_LIMIT {
                cur.done = true;
                if format == ExportFormat::Json {
                    chunk.push(']');
                }
            }
            Some((Ok(bytes::Bytes::from(chunk)), cur))
        }
    });
    Body::from_bytes_stream(pages.boxed())
}

impl AdminTrailsApi {
    /// The export's body and file name, once the operator may read the trail (checked before
    /// the first byte is sent, so a refusal is a problem, not a cut stream).
    async fn export(
        &self,
        caller: &OperatorCaller,
        trail: &str,
        filter: Result<AuditFilter, ServiceError>,
        format: ExportFormat,
    ) -> Result<(Body, String), ServiceError> {
        let filter = filter?;
        let trails = self.state.services.trails.clone();
        trails.audit_page(caller, trail, &filter, None, 1).await?;
        let name = if trail == "platform" {
            "platform".to_owned()
        } else {
            TenantId::parse(trail)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        Ok((
            export_body(trails, caller.clone(), trail.to_owned(), filter, format),
            name,
        ))
    }
}

#[OpenApi(tag = "AdminTags::Admin")]
impl AdminTrailsApi {
    /// List a trail's audit entries
    ///
    /// A bank's trail (or `platform`, for operators who see every bank), filtered by user,
    /// credential, operation, outcome and time, newest first, in pages of up to 200.
    #[oai(
        path = "/v1/admin/audit-events",
        method = "get",
        operation_id = "listAdminAuditEvents"
    )]
    #[expect(clippy::too_many_arguments, reason = "one parameter per filter")]
    async fn list(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// A bank's ID, or `platform`.
        trail: Query<String>,
        /// Only entries about this user (`usr_…`).
        user_id: Query<Option<String>>,
        /// Only entries about this credential.
        credential_id: Query<Option<String>>,
        /// Only this operation (an operationId, e.g. `verifyOtp`).
        operation: Query<Option<String>>,
        /// Only `success` or `failure`.
        outcome: Query<Option<String>>,
        /// Only entries at or after this time (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// Only entries before this time (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
        /// The previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Entries per page, 1–200.
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> Result<AuditPageResponse, ListAdminAuditEventsProblem> {
        let run = async {
            let query = audit_query(
                user_id.0,
                credential_id.0,
                operation.0,
                outcome.0,
                from.0,
                to.0,
            )?;
            let before = cursor
                .0
                .as_deref()
                .map(|c| {
                    c.parse::<i64>()
                        .map_err(|_| ServiceError::invalid("cursor: not a cursor from this API"))
                })
                .transpose()?;
            let page = self
                .state
                .services
                .trails
                .audit_page(&session.0, &trail, &query, before, limit.0)
                .await?;
            let next_cursor = (page.len() as u64 == limit.0)
                .then(|| page.last().map(|e| e.seq.to_string()))
                .flatten();
            Ok::<_, ServiceError>(AdminAuditPage {
                items: page.into_iter().map(AdminAuditEventDto::from).collect(),
                next_cursor,
            })
        };
        run.await
            .map(|p| AuditPageResponse::Ok(Json(p)))
            .map_err(|e| ListAdminAuditEventsProblem::from_error(&e, &ctx))
    }

    /// Verify a trail's hash chain
    ///
    /// Recomputes every entry's hash and link; reports the first entry that was removed or
    /// altered.
    #[oai(
        path = "/v1/admin/audit-events/verify",
        method = "get",
        operation_id = "verifyAdminAuditChain"
    )]
    async fn verify(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// A bank's ID, or `platform`.
        trail: Query<String>,
    ) -> Result<ChainResponse, VerifyAdminAuditChainProblem> {
        self.state
            .services
            .trails
            .verify_chain(&session.0, &trail)
            .await
            .map(|check| {
                ChainResponse::Ok(Json(match check {
                    ChainStatus::Intact { entries } => ChainDto {
                        intact: true,
                        entries: Some(entries),
                        broken_at_seq: None,
                        reason: None,
                    },
                    ChainStatus::Broken { at_seq, reason } => ChainDto {
                        intact: false,
                        entries: None,
                        broken_at_seq: Some(at_seq),
                        reason: Some(reason),
                    },
                }))
            })
            .map_err(|e| VerifyAdminAuditChainProblem::from_error(&e, &ctx))
    }

    /// Export a trail's audit entries as CSV
    ///
    /// Every entry matching the filters (as `listAdminAuditEvents`), newest first, UTF-8 with
    /// a BOM and a header row, streamed; at most 1,000,000 entries. Cells starting with
    /// `= + - @` are prefixed with `'` so a spreadsheet never runs them.
    #[oai(
        path = "/v1/admin/audit-events/export.csv",
        method = "get",
        operation_id = "exportAdminAuditEventsCsv"
    )]
    #[expect(clippy::too_many_arguments, reason = "one parameter per filter")]
    async fn export_csv(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// A bank's ID, or `platform`.
        trail: Query<String>,
        /// Only entries about this user.
        user_id: Query<Option<String>>,
        /// Only entries about this credential.
        credential_id: Query<Option<String>>,
        /// Only this operation.
        operation: Query<Option<String>>,
        /// Only `success` or `failure`.
        outcome: Query<Option<String>>,
        /// Only entries at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Only entries before this time.
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<CsvExportResponse, AuditExportProblem> {
        let filter = audit_query(
            user_id.0,
            credential_id.0,
            operation.0,
            outcome.0,
            from.0,
            to.0,
        );
        self.export(&session.0, &trail, filter, ExportFormat::Csv)
            .await
            .map(|(body, name)| {
                CsvExportResponse::Ok(
                    Binary(body),
                    format!("attachment; filename=\"audit-{name}.csv\""),
                )
            })
            .map_err(|e| AuditExportProblem::from_error(&e, &ctx))
    }

    /// Export a trail's audit entries as JSON
    ///
    /// Every entry matching the filters (as `listAdminAuditEvents`), newest first, as a JSON
    /// array of audit entries, streamed; at most 1,000,000 entries.
    #[oai(
        path = "/v1/admin/audit-events/export.json",
        method = "get",
        operation_id = "exportAdminAuditEventsJson"
    )]
    #[expect(clippy::too_many_arguments, reason = "one parameter per filter")]
    async fn export_json(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// A bank's ID, or `platform`.
        trail: Query<String>,
        /// Only entries about this user.
        user_id: Query<Option<String>>,
        /// Only entries about this credential.
        credential_id: Query<Option<String>>,
        /// Only this operation.
        operation: Query<Option<String>>,
        /// Only `success` or `failure`.
        outcome: Query<Option<String>>,
        /// Only entries at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Only entries before this time.
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<JsonExportResponse, AuditExportProblem> {
        let filter = audit_query(
            user_id.0,
            credential_id.0,
            operation.0,
            outcome.0,
            from.0,
            to.0,
        );
        self.export(&session.0, &trail, filter, ExportFormat::Json)
            .await
            .map(|(body, name)| {
                JsonExportResponse::Ok(
                    Binary(body),
                    format!("attachment; filename=\"audit-{name}.json\""),
                )
            })
            .map_err(|e| AuditExportProblem::from_error(&e, &ctx))
    }

    /// The outbox
    ///
    /// The activation mails of one bank, or of every bank (operators who see every bank;
    /// without SMTP the outbox is the mailbox), newest first.
    #[oai(
        path = "/v1/admin/outbox",
        method = "get",
        operation_id = "listAdminOutbox"
    )]
    async fn outbox(
        &self,
        ctx: RequestContext,
        session: AdminSession,
        /// Only this bank's mails (required for a bank's operator).
        bank_id: Query<Option<String>>,
        /// Mails, 1–200.
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> Result<OutboxResponse, ListAdminOutboxProblem> {
        let run = async {
            let caller = &session.0;
            let bank = match bank_id.0.as_deref() {
                Some(id) => Some(caller.bank(id)?),
                None => {
                    caller.require_platform_view()?;
                    None
                }
            };
            self.state
                .services
                .outbox
                .outbox(bank.as_ref(), limit.0)
                .await
        };
        run.await
            .map(|mails| {
                OutboxResponse::Ok(Json(AdminOutbox {
                    items: mails.into_iter().map(AdminOutboxMailDto::from).collect(),
                }))
            })
            .map_err(|e| ListAdminOutboxProblem::from_error(&e, &ctx))
    }
}

fn default_page() -> u64 {
    50
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
