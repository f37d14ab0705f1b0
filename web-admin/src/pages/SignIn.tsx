import { useEffect, useRef, useState } from "preact/hooks";
import type { Translate } from "../i18n";

/**
 * The operators' sign-in form. The admin API does not exist yet, so submitting only says so:
 * nothing is sent and nobody is signed in.
 */
export function SignIn({ t }: { t: Translate }) {
  const [submitted, setSubmitted] = useState(false);
  const message = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    if (submitted) message.current?.focus();
  }, [submitted]);

  const onSubmit = (event: Event) => {
    event.preventDefault();
    setSubmitted(true);
  };

  return (
    <section class="card" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title" tabIndex={-1}>
        {t("signIn.title")}
      </h2>
      <p class="intro">{t("signIn.intro")}</p>
      <form class="form" onSubmit={onSubmit} onInput={() => setSubmitted(false)}>
        <div class="field">
          <label for="operator-id">{t("signIn.operatorId")}</label>
          <input
            id="operator-id"
            name="operator_id"
            type="text"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
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
          />
        </div>
        <div class="field">
          <label for="security-code">{t("signIn.code")}</label>
          <input
            id="security-code"
            name="security_code"
            type="text"
            inputmode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9]{6}"
            minLength={6}
            maxLength={6}
            aria-describedby="security-code-hint"
            required
          />
          <p id="security-code-hint" class="hint">
            {t("signIn.codeHint")}
          </p>
        </div>
        <button type="submit" class="primary">
          {t("signIn.submit")}
        </button>
      </form>
      {submitted && (
        <p ref={message} class="notice" role="alert" tabIndex={-1}>
          {t("signIn.unavailable")}
        </p>
      )}
    </section>
  );
}
