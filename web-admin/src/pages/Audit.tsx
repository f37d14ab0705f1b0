import { useEffect, useState } from "preact/hooks";
import { api, auditExportUrl, run, type AuditExportQuery, type Chain, type Failure } from "../api/client";
import { AuditTable, useOperationLabel } from "../components/AuditTable";
import { Badge, Loading, Page, Pager, ProblemMessage, Section, useLoad } from "../components/common";
import { useAbilities, useI18n } from "../context";
import { OPERATIONS } from "../i18n";
import { navigate, withQuery } from "../router";
import { bankName } from "./Banks";
import { useBanks } from "./Customers";

const PAGE_SIZE = 50;
const FILTERS = ["user_id", "credential_id", "operation", "outcome", "from", "to"] as const;
type FilterName = (typeof FILTERS)[number];
type Filters = Record<FilterName, string>;

/** A `datetime-local` value, read as Japan time, as RFC 3339 (`2026-11-22T09:30:00+09:00`). */
function jstToRfc3339(local: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(local)) return undefined;
  return `${local.length === 16 ? `${local}:00` : local}+09:00`;
}

function filtersOf(query: URLSearchParams): Filters {
  const f = {} as Filters;
  for (const name of FILTERS) f[name] = query.get(name) ?? "";
  return f;
}

/** The API's query for a trail and filters (times converted from Japan time). */
function apiQuery(trail: string, f: Filters): AuditExportQuery {
  const q: AuditExportQuery = { trail };
  if (f.user_id.trim()) q.user_id = f.user_id.trim();
  if (f.credential_id.trim()) q.credential_id = f.credential_id.trim();
  if (f.operation) q.operation = f.operation;
  if (f.outcome) q.outcome = f.outcome;
  const from = jstToRfc3339(f.from);
  if (from) q.from = from;
  const to = jstToRfc3339(f.to);
  if (to) q.to = to;
  return q;
}

/** A trail (a bank's or the platform's): filters, pages, the chain check and exports. */
export function AuditPage({ query }: { query: URLSearchParams }) {
  const { t, lang, num } = useI18n();
  const can = useAbilities();
  const banks = useBanks();
  const opLabel = useOperationLabel();
  const defaultTrail = can.ownBank ?? (can.seesPlatform ? "platform" : "");
  const trail = query.get("trail") ?? defaultTrail;
  const applied = filtersOf(query);
  const cursor = query.get("cursor") ?? "";
  const [formTrail, setFormTrail] = useState(trail);
  const [form, setForm] = useState<Filters>(applied);
  const [previous, setPrevious] = useState<string[]>([]);
  const [chain, setChain] = useState<{ trail: string; result: Chain } | null>(null);
  const [chainFailure, setChainFailure] = useState<Failure | null>(null);
  const [checking, setChecking] = useState(false);
  const appliedKey = FILTERS.map((n) => applied[n]).join("\u0000");

  useEffect(() => {
    setFormTrail(trail);
    setForm(filtersOf(query));
  }, [trail, appliedKey]);

  const page = useLoad(
    () =>
      run(
        api.GET("/v1/admin/audit-events", {
          params: {
            query: { ...apiQuery(trail, applied), ...(cursor ? { cursor } : {}), limit: PAGE_SIZE },
          },
        }),
      ),
    [trail, appliedKey, cursor],
  );

  const set = (name: FilterName) => (e: Event) =>
    setForm({ ...form, [name]: (e.target as HTMLInputElement | HTMLSelectElement).value });

  const onSubmit = (event: Event) => {
    event.preventDefault();
    setPrevious([]);
    navigate(withQuery("/audit", { trail: formTrail, ...form }));
  };

  const goTo = (next: string | undefined) =>
    navigate(withQuery("/audit", { trail, ...applied, cursor: next }), { replace: true });

  const verify = async () => {
    setChecking(true);
    setChainFailure(null);
    const outcome = await run(api.GET("/v1/admin/audit-events/verify", { params: { query: { trail } } }));
    setChecking(false);
    if (outcome.ok) setChain({ trail, result: outcome.data });
    else setChainFailure(outcome);
  };

  const exportQuery = apiQuery(trail, applied);
  const trailName = (id: string) => {
    if (id === "platform") return t("audit.platformTrail");
    const bank = banks.data?.items.find((b) => b.id === id);
    return bank ? `${bankName(bank, lang)} (${id})` : id;
  };

  return (
    <Page title={t("audit.title")} lead={t("audit.intro")}>
      <form class="filter-form" aria-label={t("audit.filters")} onSubmit={onSubmit}>
        <div class="field">
          <label for="audit-trail">{t("audit.trail")}</label>
          <select id="audit-trail" value={formTrail} onChange={(e) => setFormTrail((e.target as HTMLSelectElement).value)}>
            {can.seesPlatform && <option value="platform">{t("audit.platformTrail")}</option>}
            {banks.data?.items.map((b) => (
              <option key={b.id} value={b.id}>
                {bankName(b, lang)} ({b.id})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-user">{t("audit.userFilter")}</label>
          <input id="audit-user" type="text" spellcheck={false} placeholder="usr_…" value={form.user_id} onInput={set("user_id")} />
        </div>
        <div class="field">
          <label for="audit-credential">{t("customer.credentialId")}</label>
          <input
            id="audit-credential"
            type="text"
            spellcheck={false}
            value={form.credential_id}
            onInput={set("credential_id")}
          />
        </div>
        <div class="field">
          <label for="audit-operation">{t("audit.operation")}</label>
          <select id="audit-operation" value={form.operation} onChange={set("operation")}>
            <option value="">{t("audit.all")}</option>
            {OPERATIONS.map((op) => (
              <option key={op} value={op}>
                {opLabel(op)} ({op})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-outcome">{t("audit.outcome")}</label>
          <select id="audit-outcome" value={form.outcome} onChange={set("outcome")}>
            <option value="">{t("audit.all")}</option>
            <option value="success">{t("audit.success")}</option>
            <option value="failure">{t("audit.failure")}</option>
          </select>
        </div>
        <div class="field">
          <label for="audit-from">{t("audit.from")}</label>
          <input id="audit-from" type="datetime-local" step={1} value={form.from} onInput={set("from")} />
        </div>
        <div class="field">
          <label for="audit-to">{t("audit.to")}</label>
          <input id="audit-to" type="datetime-local" step={1} value={form.to} onInput={set("to")} />
        </div>
        <div class="filter-buttons">
          <button type="submit" class="primary">
            {t("audit.apply")}
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setPrevious([]);
              navigate(withQuery("/audit", { trail: formTrail }));
            }}
          >
            {t("audit.clear")}
          </button>
        </div>
      </form>
      <p class="hint">{t("audit.timesHint")}</p>

      <Section
        id="trail"
        title={t("audit.entriesOf", { trail: trailName(trail) })}
        actions={
          <>
            <button type="button" class="secondary" disabled={checking || !trail} onClick={() => void verify()}>
              {checking ? t("common.working") : t("audit.verify")}
            </button>
            <a class="button secondary" href={auditExportUrl("csv", exportQuery)} download data-testid="export-csv">
              {t("audit.exportCsv")}
            </a>
            <a class="button secondary" href={auditExportUrl("json", exportQuery)} download data-testid="export-json">
              {t("audit.exportJson")}
            </a>
          </>
        }
      >
        {chainFailure && <ProblemMessage failure={chainFailure} />}
        {chain && chain.trail === trail && (
          <div class="chain" role="status" data-testid="chain-result">
            {chain.result.intact ? (
              <p>
                <Badge tone="ok">{t("audit.chainIntact")}</Badge>{" "}
                {t("audit.chainEntries", { count: num(chain.result.entries ?? 0) })}
              </p>
            ) : (
              <p>
                <Badge tone="bad">{t("audit.chainBroken")}</Badge>{" "}
                {t("audit.chainBrokenAt", {
                  seq: String(chain.result.broken_at_seq ?? "?"),
                  reason: chain.result.reason ?? "",
                })}
              </p>
            )}
          </div>
        )}
        {page.failure && <ProblemMessage failure={page.failure} />}
        {page.loading && !page.data && <Loading />}
        {page.data && page.data.items.length === 0 && <p class="muted">{t("audit.none")}</p>}
        {page.data && page.data.items.length > 0 && (
          <AuditTable items={page.data.items} caption={t("audit.entriesOf", { trail: trailName(trail) })} testId="audit-table" />
        )}
        {page.data && (
          <Pager
            page={previous.length + 1}
            hasPrevious={previous.length > 0}
            next={page.data.next_cursor}
            onPrevious={() => {
              const back = previous[previous.length - 1];
              setPrevious(previous.slice(0, -1));
              goTo(back || undefined);
            }}
            onNext={(next) => {
              setPrevious([...previous, cursor]);
              goTo(next);
            }}
          />
        )}
      </Section>
    </Page>
  );
}
