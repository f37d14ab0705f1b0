import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, onSessionLost, run, setApiLanguage, setCsrfToken, type AdminSession } from "./api/client";
import { Layout } from "./components/Layout";
import { LanguageSwitch } from "./components/LanguageSwitch";
import { ServerStatus } from "./components/ServerStatus";
import { I18nContext, SessionContext, useI18n, type SessionContextValue } from "./context";
import { useLang } from "./i18n";
import { AuditPage } from "./pages/Audit";
import { BankPage } from "./pages/Bank";
import { BankPolicyPage } from "./pages/BankPolicy";
import { BanksPage } from "./pages/Banks";
import { CredentialPage } from "./pages/Credential";
import { CustomerPage } from "./pages/Customer";
import { CustomersPage } from "./pages/Customers";
import { NewBankPage } from "./pages/NewBank";
import { NotFound } from "./pages/NotFound";
import { OperatorsPage } from "./pages/Operators";
import { OutboxPage } from "./pages/Outbox";
import { TokenImportPage } from "./pages/TokenImport";
import { SetupPage } from "./pages/Setup";
import { SignIn } from "./pages/SignIn";
import { currentPath, navigate, useLocation, withQuery, type Location } from "./router";

type SessionState =
  | { kind: "loading" }
  | { kind: "signedOut"; ended: boolean }
  | { kind: "in"; session: AdminSession };

/** Goes elsewhere (replacing the current history entry) once rendered. */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

/** Where to go after signing in: the `next` of the sign-in URL, if it is a path of the app. */
function nextOf(location: Location): string {
  const next = location.query.get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/banks";
}

function SignedInPage({ location }: { location: Location }) {
  const { route } = location;
  switch (route.page) {
    case "home":
    case "signIn":
    case "setup":
      return <Redirect to={route.page === "signIn" ? nextOf(location) : "/banks"} />;
    case "banks":
      return <BanksPage />;
    case "bankNew":
      return <NewBankPage />;
    case "bank":
      return <BankPage bankId={route.bankId} />;
    case "bankPolicy":
      return <BankPolicyPage bankId={route.bankId} />;
    case "customers":
      return <CustomersPage query={location.query} />;
    case "customer":
      return <CustomerPage bankId={route.bankId} userId={route.userId} />;
    case "credentials":
      return <CredentialPage credentialId={location.query.get("id") ?? ""} />;
    case "credential":
      return <CredentialPage credentialId={route.credentialId} />;
    case "audit":
      return <AuditPage query={location.query} />;
    case "operators":
      return <OperatorsPage />;
    case "outbox":
      return <OutboxPage query={location.query} />;
    case "tokenImport":
      return <TokenImportPage />;
    case "notFound":
      return <NotFound signedIn />;
  }
}

export function App() {
  const [lang, setLang, i18n] = useLang();
  const location = useLocation();
  const [state, setState] = useState<SessionState>({ kind: "loading" });
  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(true);
  const path = window.location.pathname;

  useEffect(() => setApiLanguage(lang), [lang]);

  // The session survives a reload: ask the server who is signed in.
  useEffect(() => {
    setApiLanguage(lang);
    void run(api.GET("/v1/admin/session")).then((outcome) => {
      if (outcome.ok) {
        setCsrfToken(outcome.data.csrf_token);
        setState({ kind: "in", session: outcome.data });
      } else {
        setState({ kind: "signedOut", ended: false });
      }
    });
  }, []);

  // A 401 `admin_session_required` anywhere: back to sign-in, then back here.
  useEffect(() => {
    onSessionLost(() => {
      setCsrfToken(null);
      setState({ kind: "signedOut", ended: true });
    });
    return () => onSessionLost(null);
  }, []);

  // After a client-side navigation to another page, move the focus to its heading so screen
  // readers and keyboard users start there (as after a full page load).
  useEffect(() => {
    if (firstPath.current) {
      firstPath.current = false;
      return;
    }
    window.setTimeout(() => main.current?.querySelector<HTMLElement>("h2")?.focus(), 0);
  }, [path]);

  const sessionValue = useMemo<SessionContextValue | null>(() => {
    if (state.kind !== "in") return null;
    return {
      session: state.session,
      setSession: (session) => {
        setCsrfToken(session?.csrf_token ?? null);
        setState(session ? { kind: "in", session } : { kind: "signedOut", ended: false });
      },
      signOut: async () => {
        await run(api.DELETE("/v1/admin/session"));
        setCsrfToken(null);
        setState({ kind: "signedOut", ended: false });
        navigate("/sign-in");
      },
    };
  }, [state]);

  const { route } = location;
  let content;
  if (state.kind === "loading") {
    content = route.page === "notFound" ? <NotFound signedIn={false} /> : null;
  } else if (state.kind === "signedOut") {
    if (route.page === "notFound") content = <NotFound signedIn={false} />;
    else if (route.page === "signIn")
      content = (
        <SignIn
          ended={state.ended}
          onSignedIn={(session) => {
            setCsrfToken(session.csrf_token);
            setState({ kind: "in", session });
            navigate(session.stage === "setup" ? "/setup" : nextOf(location), { replace: true });
          }}
        />
      );
    else {
      const here = currentPath();
      content = <Redirect to={withQuery("/sign-in", { next: here === "/" ? undefined : here })} />;
    }
  } else if (state.session.stage === "setup") {
    content =
      route.page === "setup" ? (
        <SetupPage />
      ) : route.page === "notFound" ? (
        <NotFound signedIn={false} />
      ) : (
        <Redirect to="/setup" />
      );
  } else {
    content = <SignedInPage location={location} />;
  }

  const signedIn = state.kind === "in" && state.session.stage === "active";
  return (
    <I18nContext.Provider value={i18n}>
      <SessionContext.Provider value={sessionValue}>
        <div class="layout">
          <a class="skip-link" href="#main">
            {i18n.t("app.skipToMain")}
          </a>
          {signedIn ? (
            <Layout lang={lang} setLang={setLang} current={route.page} />
          ) : (
            <header class="site-header">
              <h1 class="site-title">{i18n.t("app.title")}</h1>
              <div class="header-tools">
                {state.kind === "in" && <SignOutButton />}
                <LanguageSwitch lang={lang} onChange={setLang} t={i18n.t} />
              </div>
            </header>
          )}
          <main id="main" ref={main} tabIndex={-1} class={signedIn ? "main-wide" : "main-narrow"}>
            {state.kind === "loading" && route.page !== "notFound" ? (
              <p class="loading" role="status">
                {i18n.t("common.loading")}
              </p>
            ) : (
              content
            )}
          </main>
          <footer class="site-footer">
            <ServerStatus t={i18n.t} />
          </footer>
        </div>
      </SessionContext.Provider>
    </I18nContext.Provider>
  );
}

/** Signing out from the setup pages (the layout has its own button). */
function SignOutButton() {
  const { t } = useI18n();
  const session = useContext(SessionContext);
  if (!session) return null;
  return (
    <button type="button" class="header-button" onClick={() => void session.signOut()}>
      {t("nav.signOut")}
    </button>
  );
}
