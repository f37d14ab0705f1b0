// Audit entries as a table, for the audit page and a customer's recent entries.

import type { AuditEvent } from "../api/client";
import { useI18n } from "../context";
import { isMessageKey } from "../i18n";
import { Badge, Time } from "./common";

/** The operator's reason (or the note) in an entry's details, if there is one. */
function reasonOf(details: string | undefined): string | null {
  if (!details) return null;
  try {
    const parsed: unknown = JSON.parse(details);
    if (parsed && typeof parsed === "object" && "reason" in parsed) {
      const reason = (parsed as { reason: unknown }).reason;
      return typeof reason === "string" ? reason : null;
    }
  } catch {
    // Not JSON: shown as it is below.
  }
  return null;
}

/** An operation's name in the console's language (its API name when unknown). */
export function useOperationLabel(): (operation: string) => string {
  const { t } = useI18n();
  return (operation) => {
    const key = `op.${operation}`;
    return isMessageKey(key) ? t(key) : operation;
  };
}

export function AuditTable({
  items,
  caption,
  testId,
  ofOneUser = false,
}: {
  items: AuditEvent[];
  caption: string;
  testId: string;
  /** The entries of one customer: no sequence numbers, no user column. */
  ofOneUser?: boolean;
}) {
  const { t } = useI18n();
  const label = useOperationLabel();
  return (
    <div class="table-wrap">
      <table class="audit-table" data-testid={testId}>
        <caption class="visually-hidden">{caption}</caption>
        <colgroup>
          {!ofOneUser && <col class="col-seq" />}
          <col class="col-when" />
          <col class="col-operation" />
          <col class="col-outcome" />
          <col class="col-actor" />
          <col />
        </colgroup>
        <thead>
          <tr>
            {!ofOneUser && (
              <th scope="col" class="num">
                {t("audit.seq")}
              </th>
            )}
            <th scope="col">{t("audit.when")}</th>
            <th scope="col">{t("audit.operation")}</th>
            <th scope="col">{t("audit.outcome")}</th>
            <th scope="col">{t("audit.actor")}</th>
            <th scope="col">{t("audit.details")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((event) => {
            const reason = reasonOf(event.details);
            return (
              <tr key={event.seq} data-operation={event.operation} data-outcome={event.outcome}>
                {!ofOneUser && <td class="num">{event.seq}</td>}
                <td>
                  <Time value={event.occurred_at} />
                </td>
                <td>
                  {label(event.operation)}
                  <br />
                  <code class="small">{event.operation}</code>
                </td>
                <td>
                  {event.outcome === "success" ? (
                    <Badge tone="ok">{t("audit.success")}</Badge>
                  ) : (
                    <Badge tone="bad">{t("audit.failure")}</Badge>
                  )}
                  {event.error_code && (
                    <>
                      <br />
                      <code class="small">{event.error_code}</code>
                    </>
                  )}
                </td>
                <td>
                  <code class="small">{event.actor}</code>
                </td>
                <td class="small">
                  {event.user_id && !ofOneUser && (
                    <span class="subject">
                      {t("audit.user")}: <code>{event.user_id}</code>
                    </span>
                  )}
                  {event.credential_id && (
                    <span class="subject">
                      {t("audit.credential")}: <code>{event.credential_id}</code>
                    </span>
                  )}
                  {event.client_addr && (
                    <span class="subject">
                      {t("audit.client")}: <code>{event.client_addr}</code>
                    </span>
                  )}
                  {reason && (
                    <span class="reason">
                      {t("audit.reason")}: {reason}
                    </span>
                  )}
                  {event.details && (
                    <details>
                      <summary>{t("audit.raw")}</summary>
                      <pre class="code small wrap">{event.details}</pre>
                    </details>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
