import { useState } from "preact/hooks";
import { api, run, type AdminSession, type Failure } from "../api/client";
import { Page, ProblemMessage } from "../components/common";
import { useI18n } from "../context";

/**
 * The operators' sign-in: login name, password and the authenticator's code (not needed at the
 * first sign-in with a one-time password, before an authenticator app is enrolled).
 */
export function SignIn({
  ended,
  onSignedIn,
}: {
  ended: boolean;
  onSignedIn: (session: AdminSession) => void;
}) {
  const { t } = useI18n();
  const [loginName, setLoginName] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    const trimmed = code.trim();
    const outcome = await run(
      api.POST("/v1/admin/session", {
        body: {
          login_name: loginName.trim(),
          password,
          ...(trimmed ? { code: trimmed } : {}),
        },
      }),
    );
    setBusy(false);
    if (outcome.ok) onSignedIn(outcome.data);
    else {
      setPassword("");
      setCode("");
      setFailure(outcome);
    }
  };

  return (
    <Page title={t("signIn.title")} wide={false}>
      <div class="card">
        <p class="intro">{t("signIn.intro")}</p>
        {ended && !failure && (
          <p class="notice" role="status">
            {t("signIn.sessionEnded")}
          </p>
        )}
        <form class="form" onSubmit={(e) => void onSubmit(e)}>
          <div class="field">
            <label for="operator-id">{t("signIn.operatorId")}</label>
            <input
              id="operator-id"
              name="login_name"
              type="text"
              autocomplete="username"
              autocapitalize="none"
              spellcheck={false}
              required
              value={loginName}
              onInput={(e) => setLoginName((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field">
            <label for="password">{t("signIn.password")}</label>
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field">
            <label for="security-code">{t("signIn.code")}</label>
            <input
              id="security-code"
              name="code"
              type="text"
              inputmode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9０-９ ]{6,8}"
              maxLength={8}
              aria-describedby="security-code-hint"
              value={code}
              onInput={(e) => setCode((e.target as HTMLInputElement).value)}
            />
            <p id="security-code-hint" class="hint">
              {t("signIn.codeHint")}
            </p>
          </div>
          {failure && <ProblemMessage failure={failure} focus />}
          <button type="submit" class="primary" disabled={busy}>
            {busy ? t("common.working") : t("signIn.submit")}
          </button>
        </form>
      </div>
    </Page>
  );
}
