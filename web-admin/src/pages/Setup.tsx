import { useEffect, useState } from "preact/hooks";
import { api, run, type Failure, type TotpEnrollment } from "../api/client";
import { CopyButton, Loading, Page, ProblemMessage } from "../components/common";
import { ServerSvg } from "../components/texts";
import { useI18n, useSession } from "../context";
import { navigate } from "../router";

/**
 * The first sign-in: replace the one-time password (step 1), then enroll an authenticator app
 * by its QR code or secret and confirm with a code (step 2). Then the console opens.
 */
export function SetupPage() {
  const { t } = useI18n();
  const { session } = useSession();
  const step = session.operator.password_must_change ? 1 : 2;
  return (
    <Page title={t("setup.title")} wide={false}>
      <ol class="steps" aria-label={t("setup.progress")}>
        <li aria-current={step === 1 ? "step" : undefined} class={step > 1 ? "done" : ""}>
          {t("setup.step1")}
        </li>
        <li aria-current={step === 2 ? "step" : undefined}>{t("setup.step2")}</li>
      </ol>
      {step === 1 ? <PasswordStep /> : <TotpStep />}
    </Page>
  );
}

function PasswordStep() {
  const { t } = useI18n();
  const { setSession } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const mismatch = again !== "" && next !== again;

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    if (next !== again) return;
    setBusy(true);
    setFailure(null);
    const outcome = await run(
      api.POST("/v1/admin/session/password", {
        body: { current_password: current, new_password: next },
      }),
    );
    setBusy(false);
    if (outcome.ok) {
      setSession(outcome.data);
      if (outcome.data.stage === "active") navigate("/banks", { replace: true });
    } else setFailure(outcome);
  };

  return (
    <div class="card">
      <h3>{t("setup.passwordTitle")}</h3>
      <p class="intro">{t("setup.passwordIntro")}</p>
      <form class="form" onSubmit={(e) => void onSubmit(e)}>
        <div class="field">
          <label for="current-password">{t("setup.currentPassword")}</label>
          <input
            id="current-password"
            type="password"
            autocomplete="current-password"
            required
            value={current}
            onInput={(e) => setCurrent((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="new-password">{t("setup.newPassword")}</label>
          <input
            id="new-password"
            type="password"
            autocomplete="new-password"
            required
            minLength={12}
            aria-describedby="new-password-hint"
            value={next}
            onInput={(e) => setNext((e.target as HTMLInputElement).value)}
          />
          <p id="new-password-hint" class="hint">
            {t("setup.newPasswordHint")}
          </p>
        </div>
        <div class="field">
          <label for="new-password-again">{t("setup.newPasswordAgain")}</label>
          <input
            id="new-password-again"
            type="password"
            autocomplete="new-password"
            required
            aria-invalid={mismatch}
            aria-describedby={mismatch ? "new-password-mismatch" : undefined}
            value={again}
            onInput={(e) => setAgain((e.target as HTMLInputElement).value)}
          />
          {mismatch && (
            <p id="new-password-mismatch" class="field-error">
              {t("setup.mismatch")}
            </p>
          )}
        </div>
        {failure && <ProblemMessage failure={failure} focus />}
        <button type="submit" class="primary" disabled={busy || mismatch}>
          {busy ? t("common.working") : t("setup.savePassword")}
        </button>
      </form>
    </div>
  );
}

function TotpStep() {
  const { t } = useI18n();
  const { setSession } = useSession();
  const [enrollment, setEnrollment] = useState<TotpEnrollment | null>(null);
  const [startFailure, setStartFailure] = useState<Failure | null>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  useEffect(() => {
    void run(api.POST("/v1/admin/session/totp")).then((outcome) => {
      if (outcome.ok) setEnrollment(outcome.data);
      else setStartFailure(outcome);
    });
  }, []);

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    const outcome = await run(
      api.POST("/v1/admin/session/totp/confirm", { body: { code: code.trim() } }),
    );
    setBusy(false);
    if (outcome.ok) {
      setSession(outcome.data);
      navigate("/banks", { replace: true });
    } else {
      setCode("");
      setFailure(outcome);
    }
  };

  if (startFailure) return <ProblemMessage failure={startFailure} />;
  if (!enrollment) return <Loading />;
  return (
    <div class="card">
      <h3>{t("setup.totpTitle")}</h3>
      <p class="intro">{t("setup.totpIntro")}</p>
      <div class="enroll">
        <ServerSvg class="qr" markup={enrollment.qr_svg} label={t("setup.qrLabel")} />
        <div class="enroll-secret">
          <p>{t("setup.secretIntro")}</p>
          <p class="secret">
            <span class="secret-label">{t("setup.secretLabel")}</span>{" "}
            <code data-testid="totp-secret">{enrollment.secret}</code>
          </p>
          <CopyButton text={enrollment.secret} />
          <p class="hint">{t("setup.secretParams")}</p>
        </div>
      </div>
      <form class="form" onSubmit={(e) => void onSubmit(e)}>
        <div class="field">
          <label for="totp-code">{t("setup.code")}</label>
          <input
            id="totp-code"
            class="code-input"
            type="text"
            inputmode="numeric"
            autocomplete="one-time-code"
            required
            pattern="[0-9０-９ ]{6,8}"
            maxLength={8}
            aria-describedby="totp-code-hint"
            value={code}
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
          />
          <p id="totp-code-hint" class="hint">
            {t("setup.codeHint")}
          </p>
        </div>
        {failure && <ProblemMessage failure={failure} focus />}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("common.working") : t("setup.confirm")}
        </button>
      </form>
    </div>
  );
}
