import { useState } from "preact/hooks";
import { api, run, type CustomerDetail, type OtpUse, type TokenState } from "../api/client";
import { AuditTable } from "../components/AuditTable";
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
  YesNo,
  type Tone,
} from "../components/common";
import { useLoad } from "../components/common";
import { ReasonDialog, useReasonDialog, type ReasonAction } from "../components/ReasonDialog";
import { useAbilities, useI18n } from "../context";
import { seg, withQuery } from "../router";

const TOKEN_TONE: Record<TokenState, Tone> = {
  active: "ok",
  locked: "bad",
  stopped: "neutral",
  replaced: "neutral",
  revoked: "bad",
  released: "neutral",
};

const OTP_TONE: Record<OtpUse, Tone> = {
  none: "neutral",
  issued: "info",
  in_use: "ok",
  locked: "bad",
  stopped: "neutral",
  revoked: "bad",
  suspended: "bad",
};

export function TokenStateBadge({ state }: { state: TokenState }) {
  const { t } = useI18n();
  return <Badge tone={TOKEN_TONE[state]}>{t(`tokenState.${state}`)}</Badge>;
}

function OtpUseBadge({ status }: { status: OtpUse }) {
  const { t } = useI18n();
  return <Badge tone={OTP_TONE[status]}>{t(`otpUse.${status}`)}</Badge>;
}

/** Everything about one customer at one bank, and the support desk's actions. */
export function CustomerPage({ bankId, userId }: { bankId: string; userId: string }) {
  const { t, num } = useI18n();
  const can = useAbilities();
  const path = { bank_id: bankId, user_id: userId };
  const customer = useLoad(
    () => run(api.GET("/v1/admin/banks/{bank_id}/users/{user_id}", { params: { path } })),
    [bankId, userId],
  );
  const dialog = useReasonDialog();
  const [notice, setNotice] = useState("");
  const [temporary, setTemporary] = useState<string | null>(null);
  const helps = can.helps(bankId);

  const act = <T,>(action: Omit<ReasonAction<T>, "done"> & { notice: string; after?: (data: T) => void }) =>
    dialog.open<T>({
      ...action,
      done: (data) => {
        setNotice(action.notice);
        action.after?.(data);
        customer.reload();
      },
    });

  const c: CustomerDetail | null = customer.data;
  const name = c ? c.display_name || c.contract_number : "";
  const notFound = customer.failure?.problem?.status === 404;

  if (!c) {
    return (
      <Page title={notFound ? t("customer.notFoundTitle") : t("customer.title")}>
        <p class="breadcrumb">
          <Link to={withQuery("/customers", { bank: bankId })}>{t("customers.title")}</Link>
        </p>
        {customer.failure && <ProblemMessage failure={customer.failure} />}
        {customer.loading && <Loading />}
      </Page>
    );
  }

  const otp = c.otp;
  return (
    <Page title={t("customer.titleOf", { name })}>
      <p class="breadcrumb">
        <Link to={withQuery("/customers", { bank: bankId })}>{t("customers.title")}</Link> ›{" "}
        <Link to={`/banks/${seg(bankId)}`}>{bankId}</Link> › {name}
      </p>
      {notice && <Notice>{notice}</Notice>}
      {temporary && (
        <OnceSecret
          title={t("customer.temporaryTitle")}
          value={temporary}
          warning={t("customer.temporaryWarning")}
          testId="temporary-password"
          onDone={() => setTemporary(null)}
        />
      )}
      {!helps && <p class="hint">{t("customer.readOnly")}</p>}

      <Section id="profile" title={t("customer.profile")}>
        <dl class="fields" data-testid="customer-profile">
          <Field label={t("customer.contractNumber")}>{c.contract_number}</Field>
          <Field label={t("customer.userId")}>{c.user_id ?? "—"}</Field>
          <Field label={t("customer.displayName")}>{c.display_name || "—"}</Field>
          <Field label={t("customer.mamoriId")}>
            <code>{c.id}</code>
          </Field>
          <Field label={t("customer.bank")}>
            <Link to={`/banks/${seg(bankId)}`}>{bankId}</Link>
          </Field>
          <Field label={t("customer.createdAt")}>
            <Time value={c.created_at} />
          </Field>
        </dl>
      </Section>

      <Section
        id="otp"
        title={t("customer.otp")}
        actions={
          helps && (
            <>
              {otp.status === "locked" && (
                <button
                  type="button"
                  class="primary"
                  onClick={() =>
                    act({
                      title: t("customer.unlockToken"),
                      description: (
                        <p>
                          {t("customer.unlockTokenDescription")}
                        </p>
                      ),
                      confirm: t("customer.unlockToken"),
                      run: (reason) =>
                        run(
                          api.POST("/v1/admin/banks/{bank_id}/users/{user_id}/token/unlock", {
                            params: { path },
                            body: { reason },
                          }),
                        ),
                      notice: t("customer.unlockTokenDone"),
                    })
                  }
                >
                  {t("customer.unlockToken")}
                </button>
              )}
              {(otp.status === "in_use" || otp.status === "locked" || otp.status === "suspended") && (
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    act({
                      title: t("customer.revokeToken"),
                      description: (
                        <p>
                          {t("customer.revokeTokenDescription", { credential: otp.credential_id ?? "" })}
                        </p>
                      ),
                      confirm: t("customer.revokeToken"),
                      danger: true,
                      run: (reason) =>
                        run(
                          api.POST("/v1/admin/banks/{bank_id}/users/{user_id}/token/revoke", {
                            params: { path },
                            body: { reason },
                          }),
                        ),
                      notice: t("customer.revokeTokenDone"),
                    })
                  }
                >
                  {t("customer.revokeToken")}
                </button>
              )}
            </>
          )
        }
      >
        <dl class="fields" data-testid="customer-otp">
          <Field label={t("customer.otpStatus")}>
            <OtpUseBadge status={otp.status} />
          </Field>
          <Field label={t("customer.credentialId")}>
            {otp.credential_id ? (
              <Link to={`/credentials/${seg(otp.credential_id)}`}>
                <code>{otp.credential_id}</code>
              </Link>
            ) : (
              "—"
            )}
          </Field>
          <Field label={t("customer.failures")}>{num(otp.failures)}</Field>
          <Field label={t("customer.attemptsLeft")}>
            {otp.attempts_left === undefined ? "—" : num(otp.attempts_left)}
          </Field>
          <Field label={t("customer.lastSuccess")}>
            <Time value={otp.last_success_at} empty={t("customer.never")} />
          </Field>
          <Field label={t("customer.credentialSuspended")}>
            {otp.credential_suspended ? (
              <Badge tone="bad">{t("customer.suspendedPlatform")}</Badge>
            ) : (
              <YesNo value={false} />
            )}
          </Field>
        </dl>
      </Section>

      <Section
        id="password"
        title={t("customer.loginPassword")}
        actions={
          helps && (
            <>
              {c.password_set && c.password_locked && (
                <button
                  type="button"
                  class="primary"
                  onClick={() =>
                    act({
                      title: t("customer.unlockPassword"),
                      description: (
                        <p>
                          {t("customer.unlockPasswordDescription")}
                        </p>
                      ),
                      confirm: t("customer.unlockPassword"),
                      run: (reason) =>
                        run(
                          api.POST("/v1/admin/banks/{bank_id}/users/{user_id}/password/unlock", {
                            params: { path },
                            body: { reason },
                          }),
                        ),
                      notice: t("customer.unlockPasswordDone"),
                    })
                  }
                >
                  {t("customer.unlockPassword")}
                </button>
              )}
              <button
                type="button"
                class="secondary"
                onClick={() =>
                  act({
                    title: t("customer.resetPassword"),
                    description: (
                      <p>
                        {t("customer.resetPasswordDescription")}
                      </p>
                    ),
                    confirm: t("customer.resetPassword"),
                    danger: true,
                    run: (reason) =>
                      run(
                        api.POST("/v1/admin/banks/{bank_id}/users/{user_id}/password/reset", {
                          params: { path },
                          body: { reason },
                        }),
                      ),
                    notice: t("customer.resetPasswordDone"),
                    after: (data) => setTemporary(data.temporary_password),
                  })
                }
              >
                {t("customer.resetPassword")}
              </button>
            </>
          )
        }
      >
        {c.password_set ? (
          <dl class="fields" data-testid="customer-password">
            <Field label={t("customer.passwordState")}>
              {c.password_locked ? (
                <Badge tone="bad">{t("customer.passwordLocked")}</Badge>
              ) : (
                <Badge tone="ok">{t("customer.passwordUsable")}</Badge>
              )}
            </Field>
            <Field label={t("customer.passwordFailures")}>{num(c.password_failures)}</Field>
            <Field label={t("customer.passwordMustChange")}>
              <YesNo value={c.password_must_change} />
            </Field>
            <Field label={t("customer.passwordChangedAt")}>
              <Time value={c.password_changed_at} />
            </Field>
          </dl>
        ) : (
          <p class="muted">{t("customer.noPassword")}</p>
        )}
      </Section>

      <Section id="tokens" title={t("customer.tokens")}>
        {c.tokens.length === 0 ? (
          <p class="muted">{t("customer.noTokens")}</p>
        ) : (
          <div class="table-wrap">
            <table data-testid="customer-tokens">
              <thead>
                <tr>
                  <th scope="col">{t("customer.credentialId")}</th>
                  <th scope="col">{t("customer.tokenState")}</th>
                  <th scope="col" class="num">{t("customer.failures")}</th>
                  <th scope="col" class="num">{t("customer.drift")}</th>
                  <th scope="col">{t("customer.lastSuccess")}</th>
                  <th scope="col">{t("customer.registeredAt")}</th>
                </tr>
              </thead>
              <tbody>
                {c.tokens.map((token) => (
                  <tr key={token.id}>
                    <td>
                      <Link to={`/credentials/${seg(token.credential_id)}`}>
                        <code>{token.credential_id}</code>
                      </Link>
                      {token.credential_suspended && (
                        <>
                          {" "}
                          <Badge tone="bad">{t("customer.suspendedPlatform")}</Badge>
                        </>
                      )}
                    </td>
                    <td>
                      <TokenStateBadge state={token.state} />
                    </td>
                    <td class="num">{num(token.failures)}</td>
                    <td class="num">{t("customer.driftSteps", { steps: num(token.drift_steps) })}</td>
                    <td>
                      <Time value={token.last_success_at} empty={t("customer.never")} />
                    </td>
                    <td>
                      <Time value={token.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <Section
        id="issue"
        title={t("customer.openIssue")}
        actions={
          helps &&
          c.open_issue && (
            <button
              type="button"
              class="secondary"
              onClick={() =>
                act({
                  title: t("customer.resendMail"),
                  description: (
                    <p>
                      {t("customer.resendMailDescription", { address: c.open_issue?.mail_address ?? "" })}
                    </p>
                  ),
                  confirm: t("customer.resendMail"),
                  run: (reason) =>
                    run(
                      api.POST("/v1/admin/banks/{bank_id}/users/{user_id}/activation-mail/resend", {
                        params: { path },
                        body: { reason },
                      }),
                    ),
                  notice: t("customer.resendMailDone"),
                })
              }
            >
              {t("customer.resendMail")}
            </button>
          )
        }
      >
        {c.open_issue ? (
          <dl class="fields">
            <Field label={t("customer.issueState")}>
              {c.open_issue.state === "activated" ? t("customer.issueActivated") : t("customer.issueIssued")}
            </Field>
            <Field label={t("customer.mailAddress")}>{c.open_issue.mail_address}</Field>
            <Field label={t("customer.issueExpires")}>
              <Time value={c.open_issue.expires_at} />
            </Field>
          </dl>
        ) : (
          <p class="muted">{t("customer.noIssue")}</p>
        )}
      </Section>

      <Section id="logins" title={t("customer.openLogins")}>
        {c.open_logins.length === 0 ? (
          <p class="muted">{t("customer.noLogins")}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("customer.loginId")}</th>
                  <th scope="col">{t("customer.loginStep")}</th>
                  <th scope="col">{t("customer.expiresAt")}</th>
                </tr>
              </thead>
              <tbody>
                {c.open_logins.map((login) => (
                  <tr key={login.id}>
                    <td>
                      <code>{login.id}</code>
                    </td>
                    <td>{t(`nextStep.${login.step}`)}</td>
                    <td>
                      <Time value={login.expires_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <Section id="approvals" title={t("customer.pendingApprovals")}>
        {c.pending_approvals.length === 0 ? (
          <p class="muted">{t("customer.noApprovals")}</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("customer.approvalId")}</th>
                  <th scope="col">{t("customer.requestedAt")}</th>
                  <th scope="col">{t("customer.expiresAt")}</th>
                  <th scope="col">{t("customer.transactionHash")}</th>
                  <th scope="col">
                    <span class="visually-hidden">{t("common.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {c.pending_approvals.map((approval) => (
                  <tr key={approval.approval_id}>
                    <td>
                      <code>{approval.approval_id}</code>
                    </td>
                    <td>
                      <Time value={approval.created_at} />
                    </td>
                    <td>
                      <Time value={approval.expires_at} />
                    </td>
                    <td>
                      <code class="small hash">{approval.transaction_hash}</code>
                    </td>
                    <td>
                      {helps && (
                        <button
                          type="button"
                          class="danger small"
                          aria-label={`${t("customer.cancelApproval")}: ${approval.approval_id}`}
                          onClick={() =>
                            act({
                              title: t("customer.cancelApproval"),
                              description: (
                                <p>
                                  {t("customer.cancelApprovalDescription")}
                                </p>
                              ),
                              confirm: t("customer.cancelApproval"),
                              danger: true,
                              run: (reason) =>
                                run(
                                  api.POST("/v1/admin/banks/{bank_id}/push-approvals/{approval_id}/cancel", {
                                    params: { path: { bank_id: bankId, approval_id: approval.approval_id } },
                                    body: { reason },
                                  }),
                                ),
                              notice: t("customer.cancelApprovalDone"),
                            })
                          }
                        >
                          {t("customer.cancelApproval")}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <Section
        id="recent-audit"
        title={t("customer.recentAudit")}
        actions={
          <Link class="button secondary" to={withQuery("/audit", { trail: bankId, user_id: c.id })}>
            {t("customer.allAudit")}
          </Link>
        }
      >
        {c.recent_audit.length === 0 ? (
          <p class="muted">{t("audit.none")}</p>
        ) : (
          <AuditTable
            items={c.recent_audit}
            caption={t("customer.recentAudit")}
            testId="customer-audit"
            ofOneUser
          />
        )}
      </Section>
      <ReasonDialog action={dialog.action} onClose={dialog.close} />
    </Page>
  );
}
