import { useState } from "preact/hooks";
import { api, run, type Failure, type PolicyReview } from "../api/client";
import { Link, Page, ProblemMessage, Section } from "../components/common";
import { BANK_TEMPLATE } from "../bankTemplate";
import { useAbilities, useI18n } from "../context";
import { navigate, seg } from "../router";
import { ReviewResult } from "./BankPolicy";

const BANK_ID = /^[a-z][a-z0-9-]{2,39}$/;

/** A new console-managed bank: its ID, its config (from a template) and a reason. */
export function NewBankPage() {
  const { t } = useI18n();
  const can = useAbilities();
  const [id, setId] = useState("");
  const [text, setText] = useState(BANK_TEMPLATE);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [review, setReview] = useState<PolicyReview | null>(null);
  const idValid = BANK_ID.test(id);

  const onReview = async () => {
    if (!idValid) return;
    setBusy(true);
    setFailure(null);
    const outcome = await run(
      api.POST("/v1/admin/banks/{bank_id}/policy/review", {
        params: { path: { bank_id: id } },
        body: { policy_toml: text },
      }),
    );
    setBusy(false);
    if (outcome.ok) setReview(outcome.data);
    else setFailure(outcome);
  };

  const onCreate = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    const outcome = await run(
      api.POST("/v1/admin/banks", { body: { id, policy_toml: text, reason: reason.trim() } }),
    );
    setBusy(false);
    if (outcome.ok) navigate(`/banks/${seg(outcome.data.bank.id)}`);
    else setFailure(outcome);
  };

  return (
    <Page title={t("newBank.title")} lead={t("newBank.intro")}>
      <p class="breadcrumb">
        <Link to="/banks">{t("banks.title")}</Link> › {t("newBank.title")}
      </p>
      {!can.administer && <p class="notice">{t("common.platformAdminOnly")}</p>}
      <form class="form" onSubmit={(e) => void onCreate(e)}>
        <Section id="new-bank" title={t("newBank.details")}>
          <div class="form">
            <div class="field">
              <label for="bank-id">{t("bank.id")}</label>
              <input
                id="bank-id"
                type="text"
                required
                pattern="[a-z][a-z0-9\-]{2,39}"
                autocapitalize="none"
                spellcheck={false}
                aria-describedby="bank-id-hint"
                aria-invalid={id !== "" && !idValid}
                value={id}
                onInput={(e) => {
                  setId((e.target as HTMLInputElement).value.trim());
                  setReview(null);
                }}
              />
              <p id="bank-id-hint" class="hint">
                {t("newBank.idHint")}
              </p>
            </div>
            <div class="field">
              <label for="policy-text">{t("policy.textLabel")}</label>
              <textarea
                id="policy-text"
                class="code-edit"
                rows={22}
                spellcheck={false}
                required
                aria-describedby="new-policy-hint"
                value={text}
                onInput={(e) => {
                  setText((e.target as HTMLTextAreaElement).value);
                  setReview(null);
                }}
              />
              <p id="new-policy-hint" class="hint">
                {t("newBank.policyHint")}
              </p>
            </div>
            <p class="button-row">
              <button
                type="button"
                class="secondary"
                disabled={busy || !idValid}
                onClick={() => void onReview()}
              >
                {t("policy.review")}
              </button>
            </p>
            {review && <ReviewResult review={review} showDiff={false} />}
            <div class="field">
              <label for="bank-reason">{t("reason.label")}</label>
              <textarea
                id="bank-reason"
                rows={2}
                required
                maxLength={500}
                aria-describedby="bank-reason-hint"
                value={reason}
                onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
              />
              <p id="bank-reason-hint" class="hint">
                {t("newBank.reasonHint")}
              </p>
            </div>
            {failure && <ProblemMessage failure={failure} focus />}
            <button type="submit" class="primary" disabled={busy}>
              {busy ? t("common.working") : t("newBank.create")}
            </button>
          </div>
        </Section>
      </form>
    </Page>
  );
}
