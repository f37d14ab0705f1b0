import { useState } from "preact/hooks";
import { api, run, type ApiKey, type BankDetail, type Bucket, type Figures, type Failure } from "../api/client";
import { BarChart, type ChartBucket, type Series } from "../components/BarChart";
import {
  Badge,
  Field,
  Link,
  Loading,
  Notice,
  OnceSecret,
  Page,
  ProblemMessage,
  Section,
  Time,
  useLoad,
} from "../components/common";
import { ReasonDialog, useReasonDialog } from "../components/ReasonDialog";
import { NistFlags, TomlView } from "../components/texts";
import { useAbilities, useI18n } from "../context";
import type { I18n, MessageKey } from "../i18n";
import { seg, withQuery } from "../router";
import { BankState, ManagedBy, bankName } from "./Banks";

const FIGURES: { key: keyof Omit<Bucket, "start">; label: MessageKey; tone: string }[] = [
  { key: "codes_accepted", label: "figures.codesAccepted", tone: "series-1" },
  { key: "codes_rejected", label: "figures.codesRejected", tone: "series-2" },
  { key: "locks", label: "figures.locks", tone: "series-3" },
  { key: "registrations", label: "figures.registrations", tone: "series-4" },
  { key: "logins", label: "figures.logins", tone: "series-5" },
  { key: "push_approved", label: "figures.pushApproved", tone: "series-6" },
  { key: "push_denied", label: "figures.pushDenied", tone: "series-7" },
  { key: "push_expired", label: "figures.pushExpired", tone: "series-8" },
];

function chartBuckets(buckets: Bucket[], label: (iso: string) => string, name: (iso: string) => string): ChartBucket[] {
  return buckets.map((bucket) => ({
    label: label(bucket.start),
    name: name(bucket.start),
    values: Object.fromEntries(FIGURES.map((f) => [f.key, bucket[f.key]])),
  }));
}

/** The "now" counters and the hourly and daily charts. */
function FiguresView({ figures, i18n }: { figures: Figures; i18n: I18n }) {
  const { t, num } = i18n;
  const series: Series[] = FIGURES.map((f) => ({ key: f.key, label: t(f.label), tone: f.tone }));
  const shown = ["codes_accepted", "codes_rejected", "locks"];
  return (
    <>
      <ul class="counters" aria-label={t("figures.now")} data-testid="bank-now">
        <li class="counter" data-testid="now-locked-tokens">
          <span class="counter-value">{num(figures.locked_tokens)}</span>
          <span class="counter-label">{t("figures.lockedTokens")}</span>
        </li>
        <li class="counter" data-testid="now-locked-passwords">
          <span class="counter-value">{num(figures.locked_passwords)}</span>
          <span class="counter-label">{t("figures.lockedPasswords")}</span>
        </li>
        <li class="counter" data-testid="now-pending-approvals">
          <span class="counter-value">{num(figures.pending_approvals)}</span>
          <span class="counter-label">{t("figures.pendingApprovals")}</span>
        </li>
      </ul>
      <BarChart
        id="chart-hourly"
        title={t("figures.hourlyTitle")}
        series={series}
        initiallyShown={shown}
        labelEvery={3}
        buckets={chartBuckets(figures.hourly, i18n.hourLabel, i18n.hourName)}
      />
      <BarChart
        id="chart-daily"
        title={t("figures.dailyTitle")}
        series={series}
        initiallyShown={shown}
        labelEvery={5}
        buckets={chartBuckets(figures.daily, i18n.dayLabel, i18n.dayName)}
      />
    </>
  );
}

/** A bank's API keys: list, new key (shown once), revoke with a reason. */
function ApiKeys({ bankId }: { bankId: string }) {
  const i18n = useI18n();
  const { t } = i18n;
  const keys = useLoad(
    () => run(api.GET("/v1/admin/banks/{bank_id}/api-keys", { params: { path: { bank_id: bankId } } })),
    [bankId],
  );
  const dialog = useReasonDialog();
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [created, setCreated] = useState<{ id: string; key: string } | null>(null);
  const [notice, setNotice] = useState("");

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    setNotice("");
    const outcome = await run(
      api.POST("/v1/admin/banks/{bank_id}/api-keys", {
        params: { path: { bank_id: bankId } },
        body: { label: label.trim() },
      }),
    );
    setBusy(false);
    if (outcome.ok) {
      setCreated(outcome.data);
      setLabel("");
      keys.reload();
    } else setFailure(outcome);
  };

  const revoke = (key: ApiKey) =>
    dialog.open({
      title: t("apiKeys.revokeTitle"),
      description: t("apiKeys.revokeDescription", { label: key.label || key.prefix }),
      confirm: t("apiKeys.revoke"),
      danger: true,
      run: (reason) =>
        run(
          api.POST("/v1/admin/banks/{bank_id}/api-keys/{key_id}/revoke", {
            params: { path: { bank_id: bankId, key_id: key.id } },
            body: { reason },
          }),
        ),
      done: () => {
        setNotice(t("apiKeys.revoked", { label: key.label || key.prefix }));
        keys.reload();
      },
    });

  return (
    <Section id="api-keys" title={t("apiKeys.title")}>
      <p class="hint">{t("apiKeys.intro")}</p>
      {keys.failure && <ProblemMessage failure={keys.failure} />}
      {notice && <Notice>{notice}</Notice>}
      {keys.data && keys.data.items.length === 0 && <p class="muted">{t("apiKeys.none")}</p>}
      {keys.data && keys.data.items.length > 0 && (
        <div class="table-wrap">
          <table data-testid="api-keys-table">
            <thead>
              <tr>
                <th scope="col">{t("apiKeys.label")}</th>
                <th scope="col">{t("apiKeys.prefix")}</th>
                <th scope="col">{t("apiKeys.created")}</th>
                <th scope="col">{t("apiKeys.lastUsed")}</th>
                <th scope="col">{t("apiKeys.state")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((key) => (
                <tr key={key.id}>
                  <td>{key.label || <span class="muted">{t("apiKeys.noLabel")}</span>}</td>
                  <td>
                    <code>mmr_{key.prefix}_…</code>
                  </td>
                  <td>
                    <Time value={key.created_at} />
                  </td>
                  <td>
                    <Time value={key.last_used_at} empty={t("apiKeys.neverUsed")} />
                  </td>
                  <td>
                    {key.revoked_at ? (
                      <Badge tone="bad">
                        {t("apiKeys.revokedState")} (<Time value={key.revoked_at} />)
                      </Badge>
                    ) : (
                      <Badge tone="ok">{t("apiKeys.activeState")}</Badge>
                    )}
                  </td>
                  <td>
                    {!key.revoked_at && (
                      <button
                        type="button"
                        class="danger small"
                        aria-label={`${t("apiKeys.revoke")}: ${key.label || key.prefix}`}
                        onClick={() => revoke(key)}
                      >
                        {t("apiKeys.revoke")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {created && (
        <OnceSecret
          title={t("apiKeys.createdTitle")}
          value={created.key}
          warning={t("apiKeys.createdWarning")}
          testId="new-api-key"
          onDone={() => setCreated(null)}
        />
      )}
      <form class="inline-form" onSubmit={(e) => void create(e)}>
        <div class="field">
          <label for="api-key-label">{t("apiKeys.newLabel")}</label>
          <input
            id="api-key-label"
            type="text"
            maxLength={100}
            value={label}
            aria-describedby="api-key-label-hint"
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
          />
          <p id="api-key-label-hint" class="hint">
            {t("apiKeys.newLabelHint")}
          </p>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("common.working") : t("apiKeys.create")}
        </button>
      </form>
      {failure && <ProblemMessage failure={failure} />}
      <ReasonDialog action={dialog.action} onClose={dialog.close} />
    </Section>
  );
}

/** A bank's page: summary, figures, policy, versions, suspension and API keys. */
export function BankPage({ bankId }: { bankId: string }) {
  const i18n = useI18n();
  const { t, lang, num } = i18n;
  const can = useAbilities();
  const path = { params: { path: { bank_id: bankId } } };
  const bank = useLoad(() => run(api.GET("/v1/admin/banks/{bank_id}", path)), [bankId]);
  const figures = useLoad(() => run(api.GET("/v1/admin/banks/{bank_id}/figures", path)), [bankId]);
  const versions = useLoad(
    () => run(api.GET("/v1/admin/banks/{bank_id}/policy/versions", path)),
    [bankId],
  );
  const dialog = useReasonDialog();
  const [notice, setNotice] = useState("");
  const [detail, setDetail] = useState<BankDetail | null>(null);
  const shown = detail && detail.bank.id === bankId ? detail : bank.data;

  const suspend = (suspending: boolean) =>
    dialog.open({
      title: suspending ? t("bank.suspendTitle") : t("bank.resumeTitle"),
      description: suspending ? t("bank.suspendDescription") : t("bank.resumeDescription"),
      confirm: suspending ? t("bank.suspend") : t("bank.resume"),
      danger: suspending,
      run: (reason) =>
        run(
          suspending
            ? api.POST("/v1/admin/banks/{bank_id}/suspend", { ...path, body: { reason } })
            : api.POST("/v1/admin/banks/{bank_id}/resume", { ...path, body: { reason } }),
        ),
      done: (data) => {
        setDetail(data);
        setNotice(suspending ? t("bank.suspendedNotice") : t("bank.resumedNotice"));
      },
    });

  const title = shown
    ? `${bankName(shown.bank, lang)} (${shown.bank.id})`
    : bank.failure?.problem?.status === 404
      ? t("bank.notFoundTitle")
      : bankId;
  return (
    <Page
      title={title}
      actions={
        shown && (
          <>
            <Link class="button secondary" to={withQuery("/customers", { bank: bankId })}>
              {t("bank.searchCustomers")}
            </Link>
            <Link class="button secondary" to={withQuery("/audit", { trail: bankId })}>
              {t("bank.openAudit")}
            </Link>
          </>
        )
      }
    >
      <p class="breadcrumb">
        <Link to="/banks">{t("banks.title")}</Link> › {shown ? bankName(shown.bank, lang) : bankId}
      </p>
      {bank.failure && <ProblemMessage failure={bank.failure} />}
      {!shown && bank.loading && <Loading />}
      {notice && <Notice>{notice}</Notice>}
      {shown && (
        <>
          <Section
            id="summary"
            title={t("bank.summary")}
            actions={
              can.administer &&
              (shown.bank.suspended_at ? (
                <button type="button" class="secondary" onClick={() => suspend(false)}>
                  {t("bank.resume")}
                </button>
              ) : (
                <button type="button" class="danger" onClick={() => suspend(true)}>
                  {t("bank.suspend")}
                </button>
              ))
            }
          >
            <dl class="fields" data-testid="bank-summary">
              <Field label={t("bank.id")}>
                <code>{shown.bank.id}</code>
              </Field>
              <Field label={t("bank.nameJa")}>{shown.bank.name_ja}</Field>
              <Field label={t("bank.nameEn")}>{shown.bank.name_en}</Field>
              <Field label={t("bank.managedBy")}>
                <ManagedBy bank={shown.bank} />
              </Field>
              <Field label={t("bank.policyVersion")}>{num(shown.bank.policy_version)}</Field>
              <Field label={t("bank.userCount")}>
                {shown.bank.user_count === undefined ? "—" : num(shown.bank.user_count)}
              </Field>
              <Field label={t("bank.state")}>
                <BankState bank={shown.bank} />
              </Field>
            </dl>
          </Section>
          <Section id="figures" title={t("figures.title")}>
            {figures.failure && <ProblemMessage failure={figures.failure} />}
            {!figures.data && figures.loading && <Loading />}
            {figures.data && <FiguresView figures={figures.data} i18n={i18n} />}
          </Section>
          <Section
            id="policy"
            title={t("policy.title")}
            actions={
              can.administer && (
                <Link class="button secondary" to={`/banks/${seg(bankId)}/policy`}>
                  {t("policy.edit")}
                </Link>
              )
            }
          >
            {shown.bank.managed_by === "file" && (
              <p class="hint">
                {t("policy.fileManagedNote", { file: `tenant-configs/${shown.bank.config_file ?? `${bankId}.toml`}` })}
              </p>
            )}
            <h4>{t("nist.title")}</h4>
            <NistFlags flags={shown.nist_flags} />
            <h4>{t("policy.current")}</h4>
            <TomlView text={shown.policy_toml} label={t("policy.current")} testId="policy-toml" />
          </Section>
          <Section id="versions" title={t("versions.title")}>
            {versions.failure && <ProblemMessage failure={versions.failure} />}
            {versions.data && versions.data.items.length === 0 && (
              <p class="muted">
                {shown.bank.managed_by === "file" ? t("versions.fileManaged") : t("versions.none")}
              </p>
            )}
            {versions.data && versions.data.items.length > 0 && (
              <div class="table-wrap">
                <table data-testid="versions-table">
                  <thead>
                    <tr>
                      <th scope="col" class="num">{t("versions.version")}</th>
                      <th scope="col">{t("versions.when")}</th>
                      <th scope="col">{t("versions.who")}</th>
                      <th scope="col">{t("versions.reason")}</th>
                      <th scope="col">{t("versions.policy")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {versions.data.items.map((v) => (
                      <tr key={v.version}>
                        <td class="num">{num(v.version)}</td>
                        <td>
                          <Time value={v.created_at} />
                        </td>
                        <td>{v.changed_by}</td>
                        <td>{v.reason}</td>
                        <td>
                          <details>
                            <summary>{t("versions.show", { version: num(v.version) })}</summary>
                            <TomlView
                              text={v.policy_toml}
                              label={t("versions.show", { version: num(v.version) })}
                            />
                          </details>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
          {can.administer && <ApiKeys bankId={bankId} />}
        </>
      )}
      <ReasonDialog action={dialog.action} onClose={dialog.close} />
    </Page>
  );
}
