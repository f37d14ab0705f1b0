import { useEffect, useRef } from "preact/hooks";
import { ServerStatus } from "./components/ServerStatus";
import { LanguageSwitch } from "./components/LanguageSwitch";
import { useLang } from "./i18n";
import { NotFound } from "./pages/NotFound";
import { SignIn } from "./pages/SignIn";
import { useRoute } from "./router";

export function App() {
  const [lang, setLang, t] = useLang();
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  const pageTitle = route.page === "signIn" ? t("signIn.title") : t("notFound.title");
  useEffect(() => {
    document.title = `${pageTitle} | ${t("app.title")}`;
  }, [pageTitle, lang]);

  // After a client-side navigation, move focus to the new page's heading so screen readers
  // and keyboard users start there (as after a full page load).
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>("h2")?.focus();
  }, [route]);

  return (
    <div class="layout">
      <a class="skip-link" href="#main">
        {t("app.skipToMain")}
      </a>
      <header class="site-header">
        <h1 class="site-title">{t("app.title")}</h1>
        <LanguageSwitch lang={lang} onChange={setLang} t={t} />
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {route.page === "signIn" ? <SignIn t={t} /> : <NotFound t={t} />}
      </main>
      <footer class="site-footer">
        <ServerStatus t={t} />
      </footer>
    </div>
  );
}
