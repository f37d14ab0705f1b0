import { useEffect, useState } from "preact/hooks";
import { api, run, type Credential, type Outcome } from "../api/client";
import { Badge, Field, Link, Loading, Notice, Page, ProblemMessage, Section, Time, useLoad } from "../components/common";
import { ReasonDialog, useReasonDialog } from "../components/ReasonDialog";
import { useAbilities, useI18n } from "../context";
import { navigate, seg } from "../router";
import { TokenStateBadge } from "./Customer";
import { customerPath } from "./Customers";

/** Look up a credential (クレデンシャルID): its registrations and platform-wide suspension. */
export function CredentialPage({ credentialId }: { credentialId: string }) {
  const { t, num } = useI18n();
  const can = useAbilities();
  const [typed, setTyped] = useState(credentialId);
  const [notice, setNotice] = useState("");
  const [lifted, setLifted] = useState<Credential | null>(null);
  const dialog = useReasonDialog();
  useEffect(() => {
    setTyped(credentialId);
    setNotice("");
    setLifted(null);
  }, [credentialId]);

  const credential = useLoad<Credential | null>(() => {
    if (!credentialId) return Promise.resolve<Outcome<null>>({ ok: true, data: null });
    return run(
      api.GET("/v1/admin/credentials/{credential_id}", {
        params: { path: { credential_id: credentialId } },
      }),
    );
  }, [credentialId]);
  const c = lifted ?? credential.data;

  const onSubmit = (event: Event) => {
    event.preventDefault();
    const id = typed.trim();
    if (id) navigate(`/credentials/${seg(id)}`);
  };

  const lift = (id: string) =>
    dialog.open({
      title: t("credential.lift"),
      description: <p>{t("credential.liftDescription", { credential: id })}</p>,
      confirm: t("credential.lift"),
      run: (reason) =>
        run(
          api.POST("/v1/admin/credentials/{credential_id}/lift-suspension", {
            params: { path: { credential_id: id } },
            body: { reason },
          }),
        ),
      done: (data) => {
        setLifted(data);
        setNotice(t("credential.liftDone"));
      },
    });

  return (
    <Page title={credentialId ? t("credential.titleOf", { id: credentialId }) : t("credential.title")}>
      <form class="search-form" role="search" aria-label={t("credential.searchLabel")} onSubmit={onSubmit}>
        <div class="field grow">
          <label for="credential-id">{t("customer.credentialId")}</label>
          <input
            id="credential-id"
            type="search"
            autocomplete="off"
            spellcheck={false}
            required
            aria-describedby="credential-id-hint"
            value={typed}
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
          <p id="credential-id-hint" class="hint">
            {t("credential.idHint")}
          </p>
        </div>
        <button type="submit" class="primary">
          {t("credential.lookUp")}
        </button>
      </form>
      {credential.failure && <ProblemMessage failure={credential.failure} />}
      {credential.loading && credentialId && !c && <Loading />}
      {notice && <Notice>{notice}</Notice>}
      {c && (
        <>
          <Section
            id="credential"
            title={t("credential.summary")}
            actions={
              can.administer &&
              c.suspended_at && (
                <button type="button" class="primary" onClick={() => lift(c.credential_id)}>
                  {t("credential.lift")}
                </button>
              )
            }
          >
            <dl class="fields" data-testid="credential-summary">
              <Field label={t("customer.credentialId")}>
                <code>{c.credential_id}</code>
              </Field>
              <Field label={t("credential.kind")}>{c.kind.toUpperCase()}</Field>
              <Field label={t("credential.failures")}>{num(c.failures)}</Field>
              <Field label={t("credential.suspension")}>
                {c.suspended_at ? (
                  <Badge tone="bad">
                    {t("credential.suspended")} (<Time value={c.suspended_at} />)
                  </Badge>
                ) : (
                  <Badge tone="ok">{t("credential.notSuspended")}</Badge>
                )}
              </Field>
              <Field label={t("credential.createdAt")}>
                <Time value={c.created_at} />
              </Field>
            </dl>
          </Section>
          <Section id="registrations" title={t("credential.registrations")}>
            {c.registrations.length === 0 ? (
              <p class="muted">{t("credential.noRegistrations")}</p>
            ) : (
              <div class="table-wrap">
                <table data-testid="registrations-table">
                  <thead>
                    <tr>
                      <th scope="col">{t("customer.bank")}</th>
                      <th scope="col">{t("credential.user")}</th>
                      <th scope="col">{t("customer.tokenState")}</th>
                      <th scope="col" class="num">{t("customer.failures")}</th>
                      <th scope="col">{t("customer.registeredAt")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.registrations.map((r) => (
                      <tr key={`${r.bank_id}/${r.user_id}/${r.created_at}`}>
                        <td>
                          <Link to={`/banks/${seg(r.bank_id)}`}>{r.bank_id}</Link>
                        </td>
                        <td>
                          <Link to={customerPath(r.bank_id, r.user_id)}>
                            <code>{r.user_id}</code>
                          </Link>
                        </td>
                        <td>
                          <TokenStateBadge state={r.state} />
                        </td>
                        <td class="num">{num(r.failures)}</td>
                        <td>
                          <Time value={r.created_at} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Section>
        </>
      )}
      <ReasonDialog action={dialog.action} onClose={dialog.close} />
    </Page>
  );
}
