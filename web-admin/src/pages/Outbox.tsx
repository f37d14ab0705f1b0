import { useEffect, useState } from "preact/hooks";
import { api, run } from "../api/client";
import { Badge, Loading, Page, ProblemMessage, Time, useLoad } from "../components/common";
import { useAbilities, useI18n } from "../context";
import { navigate, withQuery } from "../router";
import { bankName } from "./Banks";
import { useBanks } from "./Customers";

/** The outbox: mails written for customers (activation mails), newest first. */
export function OutboxPage({ query }: { query: URLSearchParams }) {
  const { t, lang } = useI18n();
  const can = useAbilities();
  const banks = useBanks();
  const bank = query.get("bank") ?? can.ownBank ?? "";
  const [formBank, setFormBank] = useState(bank);
  useEffect(() => setFormBank(bank), [bank]);
  const mails = useLoad(
    () =>
      run(
        api.GET("/v1/admin/outbox", {
          params: { query: { ...(bank ? { bank_id: bank } : {}), limit: 100 } },
        }),
      ),
    [bank],
  );

  return (
    <Page title={t("outbox.title")} lead={t("outbox.intro")}>
      <form
        class="search-form"
        aria-label={t("outbox.filter")}
        onSubmit={(e) => {
          e.preventDefault();
          navigate(withQuery("/outbox", { bank: formBank }));
        }}
      >
        <div class="field">
          <label for="outbox-bank">{t("customers.bank")}</label>
          <select id="outbox-bank" value={formBank} onChange={(e) => setFormBank((e.target as HTMLSelectElement).value)}>
            {can.seesPlatform && <option value="">{t("outbox.allBanks")}</option>}
            {banks.data?.items.map((b) => (
              <option key={b.id} value={b.id}>
                {bankName(b, lang)} ({b.id})
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="primary">
          {t("outbox.show")}
        </button>
      </form>
      {mails.failure && <ProblemMessage failure={mails.failure} />}
      {mails.loading && !mails.data && <Loading />}
      {mails.data && mails.data.items.length === 0 && <p class="muted">{t("outbox.none")}</p>}
      {mails.data && mails.data.items.length > 0 && (
        <div class="table-wrap">
          <table data-testid="outbox-table">
            <caption class="visually-hidden">{t("outbox.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("outbox.createdAt")}</th>
                <th scope="col">{t("customers.bank")}</th>
                <th scope="col">{t("outbox.recipient")}</th>
                <th scope="col">{t("outbox.subject")}</th>
                <th scope="col">{t("outbox.sent")}</th>
              </tr>
            </thead>
            <tbody>
              {mails.data.items.map((mail) => (
                <tr key={mail.id}>
                  <td class="nowrap">
                    <Time value={mail.created_at} />
                  </td>
                  <td>{mail.bank_id}</td>
                  <td>{mail.recipient}</td>
                  <td>
                    <details>
                      <summary>{mail.subject}</summary>
                      <pre class="code mail-body">{mail.body}</pre>
                    </details>
                  </td>
                  <td>
                    {mail.sent_at ? (
                      <Time value={mail.sent_at} />
                    ) : (
                      <Badge tone="neutral">{t("outbox.notSent")}</Badge>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
