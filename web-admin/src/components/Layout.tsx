import { useAbilities, useI18n, useSession } from "../context";
import type { Lang, MessageKey } from "../i18n";
import type { PageName } from "../router";
import { Link } from "./common";
import { LanguageSwitch } from "./LanguageSwitch";

interface NavItem {
  to: string;
  label: MessageKey;
  /** The pages that belong to this item (for `aria-current`). */
  pages: PageName[];
  platformAdminOnly?: boolean;
}

const NAV: NavItem[] = [
  { to: "/banks", label: "nav.banks", pages: ["banks", "bank", "bankNew", "bankPolicy"] },
  { to: "/customers", label: "nav.customers", pages: ["customers", "customer"] },
  { to: "/credentials", label: "nav.credentials", pages: ["credentials", "credential"] },
  { to: "/token-imports", label: "nav.tokenImport", pages: ["tokenImport"], platformAdminOnly: true },
  { to: "/audit", label: "nav.audit", pages: ["audit"] },
  { to: "/operators", label: "nav.operators", pages: ["operators"], platformAdminOnly: true },
  { to: "/outbox", label: "nav.outbox", pages: ["outbox"] },
];

/** The signed-in header: title, operator and role, sign-out, language; then the navigation. */
export function Layout({
  lang,
  setLang,
  current,
}: {
  lang: Lang;
  setLang: (lang: Lang) => void;
  current: PageName;
}) {
  const { t } = useI18n();
  const { session, signOut } = useSession();
  const can = useAbilities();
  const { operator } = session;
  return (
    <>
      <header class="site-header">
        <h1 class="site-title">{t("app.title")}</h1>
        <div class="header-tools">
          <p class="whoami" data-testid="whoami">
            <span class="whoami-name">{operator.display_name}</span>{" "}
            <span class="whoami-role">
              ({operator.login_name} · {t(`role.${operator.role}`)}
              {operator.bank_id ? ` · ${operator.bank_id}` : ""})
            </span>
          </p>
          <button type="button" class="header-button" onClick={() => void signOut()}>
            {t("nav.signOut")}
          </button>
          <LanguageSwitch lang={lang} onChange={setLang} t={t} />
        </div>
      </header>
      <nav class="site-nav" aria-label={t("nav.label")}>
        <ul>
          {NAV.filter((item) => !item.platformAdminOnly || can.administer).map((item) => (
            <li key={item.to}>
              <Link to={item.to} aria-current={item.pages.includes(current) ? "page" : undefined}>
                {t(item.label)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
    </>
  );
}
