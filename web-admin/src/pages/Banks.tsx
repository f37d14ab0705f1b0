import { api, run, type BankSummary } from "../api/client";
import { Badge, Link, Loading, Page, ProblemMessage, Time, useLoad } from "../components/common";
import { useAbilities, useI18n } from "../context";
import { seg } from "../router";

/** The bank's name in the console's language. */
export function bankName(bank: Pick<BankSummary, "name_ja" | "name_en">, lang: string): string {
  return lang === "ja" ? bank.name_ja : bank.name_en;
}

/** "console" or "file (tenant-configs/x.toml)". */
export function ManagedBy({ bank }: { bank: BankSummary }) {
  const { t } = useI18n();
  return bank.managed_by === "admin" ? (
    <>{t("bank.managedByAdmin")}</>
  ) : (
    <>
      {t("bank.managedByFile")}
      {bank.config_file && (
        <>
          {" "}
          <code>tenant-configs/{bank.config_file}</code>
        </>
      )}
    </>
  );
}

export function BankState({ bank }: { bank: BankSummary }) {
  const { t } = useI18n();
  return bank.suspended_at ? (
    <Badge tone="bad">
      {t("bank.suspended")} (<Time value={bank.suspended_at} />)
    </Badge>
  ) : (
    <Badge tone="ok">{t("bank.active")}</Badge>
  );
}

/** The banks the operator may see. */
export function BanksPage() {
  const { t, lang, num } = useI18n();
  const can = useAbilities();
  const banks = useLoad(() => run(api.GET("/v1/admin/banks")), []);
  return (
    <Page
      title={t("banks.title")}
      actions={
        can.administer && (
          <Link to="/banks/new" class="button primary">
            {t("banks.new")}
          </Link>
        )
      }
    >
      {banks.failure && <ProblemMessage failure={banks.failure} />}
      {!banks.data && banks.loading && <Loading />}
      {banks.data && (
        <div class="table-wrap">
          <table data-testid="banks-table">
            <caption class="visually-hidden">{t("banks.caption", { count: num(banks.data.items.length) })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("bank.id")}</th>
                <th scope="col">{t("bank.name")}</th>
                <th scope="col">{t("bank.managedBy")}</th>
                <th scope="col" class="num">{t("bank.policyVersion")}</th>
                <th scope="col">{t("bank.state")}</th>
              </tr>
            </thead>
            <tbody>
              {banks.data.items.map((bank) => (
                <tr key={bank.id}>
                  <td>
                    <Link to={`/banks/${seg(bank.id)}`}>
                      <code>{bank.id}</code>
                    </Link>
                  </td>
                  <td>{bankName(bank, lang)}</td>
                  <td>
                    <ManagedBy bank={bank} />
                  </td>
                  <td class="num">{num(bank.policy_version)}</td>
                  <td>
                    <BankState bank={bank} />
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
