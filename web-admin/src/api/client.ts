// The one HTTP client of the console: openapi-fetch typed by the paths generated from
// openapi/mamori.json (`npm run gen:api`). A change of the API contract that the console
// depends on is a type error in `npm run build`.
//
// Every request says the console's language (`Accept-Language`, so a problem's `detail` comes
// localized); every state-changing one carries the session's anti-forgery token
// (`X-CSRF-Token`). A 401 `admin_session_required` from any call ends the session in the
// console and sends the operator to the sign-in page.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export const api = createClient<paths>({ baseUrl: "" });

type Schemas = components["schemas"];
export type Readiness = Schemas["Readiness"];
export type Problem = Schemas["Problem"];
export type AdminSession = Schemas["AdminSessionDto"];
export type Operator = Schemas["OperatorDto"];
export type Role = Schemas["RoleDto"];
export type BankSummary = Schemas["BankSummaryDto"];
export type BankDetail = Schemas["BankDetailDto"];
export type NistFlag = Schemas["NistFlagDto"];
export type PolicyReview = Schemas["PolicyReviewDto"];
export type PolicyVersion = Schemas["PolicyVersionDto"];
export type ApiKey = Schemas["ApiKeyDto"];
export type Figures = Schemas["FiguresDto"];
export type Bucket = Schemas["BucketDto"];
export type CustomerRow = Schemas["CustomerRowDto"];
export type CustomerDetail = Schemas["CustomerDetailDto"];
export type TokenState = Schemas["TokenStateDto"];
export type OtpUse = Schemas["OtpUseDto"];
export type NextStep = Schemas["NextStepDto"];
export type AuditEvent = Schemas["AdminAuditEventDto"];
export type Chain = Schemas["ChainDto"];
export type Credential = Schemas["CredentialDto"];
export type OutboxMail = Schemas["AdminOutboxMailDto"];
export type TotpEnrollment = Schemas["TotpEnrollmentDto"];
export type TokenImport = Schemas["AdminTokenImport"];

let language = "ja";
let csrfToken: string | null = null;
let sessionLost: (() => void) | null = null;

/** The language problems should come in. */
export function setApiLanguage(lang: string): void {
  language = lang;
}

/** The session's anti-forgery token, or `null` when signed out. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** What to do when the server says the session is gone. */
export function onSessionLost(handler: (() => void) | null): void {
  sessionLost = handler;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const SIGN_IN = "/v1/admin/session";

api.use({
  onRequest({ request }) {
    request.headers.set("Accept-Language", language);
    if (!SAFE_METHODS.has(request.method) && csrfToken) {
      request.headers.set("X-CSRF-Token", csrfToken);
    }
    return request;
  },
  async onResponse({ request, response }) {
    // Signing in, and asking whether anyone is signed in, answer 401 as a matter of course.
    const ownSession = new URL(request.url).pathname === SIGN_IN && request.method !== "DELETE";
    if (response.status === 401 && !ownSession && sessionLost) {
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { code?: string } | null;
      if (body?.code === "admin_session_required") sessionLost();
    }
    return response;
  },
});

/** A call's outcome: its data, the server's problem, or no answer at all. */
export type Outcome<T> =
  | { ok: true; data: T }
  | { ok: false; problem: Problem }
  | { ok: false; problem: null };

/** A failed outcome: the server's problem, or `null` when the server could not be reached. */
export type Failure = { ok: false; problem: Problem | null };

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === "object" &&
    value !== null &&
    "code" in value &&
    "detail" in value &&
    "status" in value
  );
}

/**
 * Awaits an openapi-fetch call and folds it into an {@link Outcome}. An answer without a
 * problem body (a proxy's error page) counts as "no answer".
 */
export async function run<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Outcome<T>> {
  try {
    const { data, error, response } = await call;
    if (response.ok) return { ok: true, data: data as T };
    return { ok: false, problem: isProblem(error) ? error : null };
  } catch {
    return { ok: false, problem: null };
  }
}

/** The query of the audit trail's export downloads (the same filters as the list). */
export type AuditExportQuery = NonNullable<
  paths["/v1/admin/audit-events/export.csv"]["get"]["parameters"]["query"]
>;

/**
 * The URL of an audit export (`exportAdminAuditEventsCsv` / `…Json`), for a plain download
 * link: a GET with the session cookie, no anti-forgery token needed.
 */
export function auditExportUrl(format: "csv" | "json", query: AuditExportQuery): string {
  const path = (
    format === "csv" ? "/v1/admin/audit-events/export.csv" : "/v1/admin/audit-events/export.json"
  ) satisfies keyof paths;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  return `${path}?${params.toString()}`;
}
