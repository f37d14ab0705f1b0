import { useEffect, useState } from "preact/hooks";
import { api, run, type CustomerRow, type Outcome } from "../api/client";
import { Badge, Link, Loading, Page, Pager, ProblemMessage, useLoad } from "../components/common";
import { useAbilities, useI18n } from "../context";
import { navigate, seg, withQuery } from "../router";
import { bankName } from "./Banks";
import { TokenStateBadge } from "./Customer";

export type SearchBy = "contract_number" | "user_id" | "credential_id";
const SEARCH_BY: SearchBy[] = ["contract_number", "user_id", "credential_id"];
const PAGE_SIZE = 20;

function searchByOf(value: string | null): SearchBy {
  return SEARCH_BY.find((by) => by === value) ?? "contract_number";
}

/** The banks the operator may see, for the bank choosers of several pages. */
export function useBanks() {
  return useLoad(() => run(api.GET("/v1/admin/banks")), []);
}

/** A customer's page. */
export function customerPath(bankId: string, userId: string): string {
  return `/banks/${seg(bankId)}/customers/${seg(userId)}`;
}

/** Search a bank's customers by 契約者番号, 利用者ID or クレデンシャルID; paged results. */
export function CustomersPage({ query }: { query: URLSearchParams }) {
  const { t, lang, num } = useI18n();
  const can = useAbilities();
  const banks = useBanks();
  const bank = query.get("bank") ?? can.ownBank ?? "";
  const by = searchByOf(query.get("by"));
  const q = query.get("q") ?? "";
  const cursor = query.get("cursor") ?? "";
  const [formBank, setFormBank] = useState(bank);
  const [formBy, setFormBy] = useState<SearchBy>(by);
  const [formQ, setFormQ] = useState(q);
  const [previous, setPrevious] = useState<string[]>([]);

  // The form follows the URL (back/forward, links from other pages).
  useEffect(() => {
    setFormBank(bank);
    setFormBy(by);
    setFormQ(q);
  }, [bank, by, q]);

  // With one bank to choose from, it is chosen.
  useEffect(() => {
    const only = banks.data?.items.length === 1 ? banks.data.items[0] : undefined;
    if (!formBank && only) setFormBank(only.id);
  }, [banks.data, formBank]);

  const searched = query.has("bank") || query.has("q");
  const results = useLoad<{ items: CustomerRow[]; next_cursor?: string } | null>(() => {
    if (!bank || !searched) return Promise.resolve<Outcome<null>>({ ok: true, data: null });
    return run(
      api.GET("/v1/admin/banks/{bank_id}/users", {
        params: {
          path: { bank_id: bank },
          query: {
            ...(q.trim() ? { [by]: q.trim() } : {}),
            ...(cursor ? { cursor } : {}),
            limit: PAGE_SIZE,
          },
        },
      }),
    );
  }, [bank, by, q, cursor, searched]);

  const onSubmit = (event: Event) => {
    event.preventDefault();
    setPrevious([]);
    navigate(withQuery("/customers", { bank: formBank, by: formBy, q: formQ.trim() }));
  };

  const goTo = (next: string | undefined) =>
    navigate(withQuery("/customers", { bank, by, q, cursor: next }), { replace: true });

  return (
    <Page title={t("customers.title")} lead={t("customers.intro")}>
      <form class="search-form" role="search" aria-label={t("customers.searchLabel")} onSubmit={onSubmit}>
        <div class="field">
          <label for="customer-bank">{t("customers.bank")}</label>
          <select
            id="customer-bank"
            required
            value={formBank}
            onChange={(e) => setFormBank((e.target as HTMLSelectElement).value)}
          >
            {(banks.data?.items.length ?? 0) !== 1 && <option value="">{t("common.choose")}</option>}
            {banks.data?.items.map((b) => (
              <option key={b.id} value={b.id}>
                {bankName(b, lang)} ({b.id})
              </option>
            ))}
          </select>
        </div>
        <fieldset class="field radio-group">
          <legend>{t("customers.searchBy")}</legend>
          {SEARCH_BY.map((option) => (
            <label key={option} class="radio">
              <input
                type="radio"
                name="by"
                value={option}
                checked={formBy === option}
                onChange={() => setFormBy(option)}
              />{" "}
              {t(`customers.by.${option}`)}
            </label>
          ))}
        </fieldset>
        <div class="field grow">
          <label for="customer-query">{t(`customers.by.${formBy}`)}</label>
          <input
            id="customer-query"
            type="search"
            autocomplete="off"
            spellcheck={false}
            aria-describedby="customer-query-hint"
            value={formQ}
            onInput={(e) => setFormQ((e.target as HTMLInputElement).value)}
          />
          <p id="customer-query-hint" class="hint">
            {t("customers.queryHint")}
          </p>
        </div>
        <button type="submit" class="primary">
          {t("customers.search")}
        </button>
      </form>
      {banks.failure && <ProblemMessage failure={banks.failure} />}
      {results.failure && <ProblemMessage failure={results.failure} />}
      {results.loading && !results.data && searched && <Loading />}
      {results.data && (
        <section aria-labelledby="results-title" class="results">
          <h3 id="results-title">
            {t("customers.results", { count: num(results.data.items.length) })}
          </h3>
          {results.data.items.length === 0 ? (
            <p class="muted">{t("customers.none")}</p>
          ) : (
            <div class="table-wrap">
              <table data-testid="customers-table">
                <thead>
                  <tr>
                    <th scope="col">{t("customer.contractNumber")}</th>
                    <th scope="col">{t("customer.userId")}</th>
                    <th scope="col">{t("customer.displayName")}</th>
                    <th scope="col">{t("customer.tokenState")}</th>
                    <th scope="col">{t("customer.credentialId")}</th>
                    <th scope="col">{t("customer.password")}</th>
                  </tr>
                </thead>
                <tbody>
                  {results.data.items.map((row) => (
                    <tr key={row.id}>
                      <td>
                        <Link to={customerPath(bank, row.id)}>{row.contract_number}</Link>
                      </td>
                      <td>{row.user_id ?? <span class="muted">—</span>}</td>
                      <td>{row.display_name || <span class="muted">—</span>}</td>
                      <td>
                        {row.token_state ? (
                          <TokenStateBadge state={row.token_state} />
                        ) : (
                          <span class="muted">{t("customer.noToken")}</span>
                        )}
                      </td>
                      <td>{row.credential_id ? <code>{row.credential_id}</code> : <span class="muted">—</span>}</td>
                      <td>
                        {row.password_locked ? (
                          <Badge tone="bad">{t("customer.passwordLocked")}</Badge>
                        ) : (
                          <span class="muted">{t("customer.passwordNotLocked")}</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <Pager
            page={previous.length + 1}
            hasPrevious={previous.length > 0}
            next={results.data.next_cursor}
            onPrevious={() => {
              const stack = previous.slice(0, -1);
              const back = previous[previous.length - 1];
              setPrevious(stack);
              goTo(back || undefined);
            }}
            onNext={(next) => {
              setPrevious([...previous, cursor]);
              goTo(next);
            }}
          />
        </section>
      )}
    </Page>
  );
}
