import { useState } from "preact/hooks";
import { api, run, type Failure, type Operator, type Role } from "../api/client";
import { Badge, Loading, Notice, OnceSecret, Page, ProblemMessage, Section, Time, useLoad } from "../components/common";
import { ReasonDialog, useReasonDialog } from "../components/ReasonDialog";
import { useAbilities, useI18n } from "../context";
import { bankName } from "./Banks";
import { useBanks } from "./Customers";

const ROLES: Role[] = ["platform_admin", "bank_operator", "auditor"];

/** The operators (platform admins only): list, create with a one-time password, unlock. */
export function OperatorsPage() {
  const { t, lang } = useI18n();
  const can = useAbilities();
  const operators = useLoad(() => run(api.GET("/v1/admin/operators")), []);
  const banks = useBanks();
  const dialog = useReasonDialog();
  const [loginName, setLoginName] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState<Role>("bank_operator");
  const [bank, setBank] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [created, setCreated] = useState<{ login: string; password: string } | null>(null);
  const [notice, setNotice] = useState("");

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    setNotice("");
    const outcome = await run(
      api.POST("/v1/admin/operators", {
        body: {
          login_name: loginName.trim(),
          display_name: displayName.trim(),
          role,
          ...(role !== "platform_admin" && bank ? { bank_id: bank } : {}),
        },
      }),
    );
    setBusy(false);
    if (outcome.ok) {
      setCreated({ login: outcome.data.operator.login_name, password: outcome.data.one_time_password });
      setLoginName("");
      setDisplayName("");
      operators.reload();
    } else setFailure(outcome);
  };

  const unlock = (op: Operator) =>
    dialog.open({
      title: t("operators.unlock"),
      description: <p>{t("operators.unlockDescription", { login: op.login_name })}</p>,
      confirm: t("operators.unlock"),
      run: (reason) =>
        run(
          api.POST("/v1/admin/operators/{operator_id}/unlock", {
            params: { path: { operator_id: op.id } },
            body: { reason },
          }),
        ),
      done: () => {
        setNotice(t("operators.unlocked", { login: op.login_name }));
        operators.reload();
      },
    });

  return (
    <Page title={t("operators.title")} lead={t("operators.intro")}>
      {!can.administer && <p class="notice">{t("common.platformAdminOnly")}</p>}
      {operators.failure && <ProblemMessage failure={operators.failure} />}
      {notice && <Notice>{notice}</Notice>}
      {operators.loading && !operators.data && <Loading />}
      {operators.data && (
        <div class="table-wrap">
          <table data-testid="operators-table">
            <caption class="visually-hidden">{t("operators.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("operators.loginName")}</th>
                <th scope="col">{t("operators.displayName")}</th>
                <th scope="col">{t("operators.role")}</th>
                <th scope="col">{t("operators.bank")}</th>
                <th scope="col">{t("operators.state")}</th>
                <th scope="col">{t("operators.createdAt")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {operators.data.items.map((op) => (
                <tr key={op.id}>
                  <td>
                    <code>{op.login_name}</code>
                  </td>
                  <td>{op.display_name}</td>
                  <td>{t(`role.${op.role}`)}</td>
                  <td>{op.bank_id ?? <span class="muted">{t("operators.allBanks")}</span>}</td>
                  <td>
                    {op.locked_at ? (
                      <Badge tone="bad">
                        {t("operators.locked")} (<Time value={op.locked_at} />)
                      </Badge>
                    ) : op.password_must_change || !op.totp_enrolled ? (
                      <Badge tone="warn">{t("operators.setupPending")}</Badge>
                    ) : (
                      <Badge tone="ok">{t("operators.active")}</Badge>
                    )}
                  </td>
                  <td>
                    <Time value={op.created_at} />
                  </td>
                  <td>
                    {op.locked_at && (
                      <button
                        type="button"
                        class="primary small"
                        aria-label={`${t("operators.unlock")}: ${op.login_name}`}
                        onClick={() => unlock(op)}
                      >
                        {t("operators.unlock")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Section id="new-operator" title={t("operators.new")}>
        {created && (
          <OnceSecret
            title={t("operators.createdTitle", { login: created.login })}
            value={created.password}
            warning={t("operators.createdWarning")}
            testId="one-time-password"
            onDone={() => setCreated(null)}
          />
        )}
        <form class="grid-form" onSubmit={(e) => void create(e)}>
          <div class="field">
            <label for="op-login">{t("operators.loginName")}</label>
            <input
              id="op-login"
              type="text"
              required
              pattern="[a-z0-9._\-]{3,40}"
              autocapitalize="none"
              spellcheck={false}
              aria-describedby="op-login-hint"
              value={loginName}
              onInput={(e) => setLoginName((e.target as HTMLInputElement).value)}
            />
            <p id="op-login-hint" class="hint">
              {t("operators.loginHint")}
            </p>
          </div>
          <div class="field">
            <label for="op-name">{t("operators.displayName")}</label>
            <input
              id="op-name"
              type="text"
              required
              maxLength={100}
              value={displayName}
              onInput={(e) => setDisplayName((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field">
            <label for="op-role">{t("operators.role")}</label>
            <select id="op-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`role.${r}`)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="op-bank">{t("operators.bank")}</label>
            <select
              id="op-bank"
              value={role === "platform_admin" ? "" : bank}
              disabled={role === "platform_admin"}
              required={role === "bank_operator"}
              aria-describedby="op-bank-hint"
              onChange={(e) => setBank((e.target as HTMLSelectElement).value)}
            >
              <option value="">{role === "auditor" ? t("operators.allBanks") : t("common.choose")}</option>
              {banks.data?.items.map((b) => (
                <option key={b.id} value={b.id}>
                  {bankName(b, lang)} ({b.id})
                </option>
              ))}
            </select>
            <p id="op-bank-hint" class="hint">
              {t("operators.bankHint")}
            </p>
          </div>
          <div class="grid-form-end">
            {failure && <ProblemMessage failure={failure} focus />}
            <button type="submit" class="primary" disabled={busy}>
              {busy ? t("common.working") : t("operators.create")}
            </button>
          </div>
        </form>
      </Section>
      <ReasonDialog action={dialog.action} onClose={dialog.close} />
    </Page>
  );
}
