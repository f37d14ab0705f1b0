import { useEffect, useState } from "preact/hooks";
import { api, run, type BankDetail, type Failure, type PolicyReview } from "../api/client";
import { Badge, CopyButton, Link, Loading, Page, ProblemMessage, Section, useLoad } from "../components/common";
import { ConfigProblems, DiffView, NistFlags, TomlView } from "../components/texts";
import { useI18n } from "../context";
import { navigate, seg } from "../router";
import { bankName } from "./Banks";

/** The review of a config: valid or its problems, the diff, the NIST flags. */
export function ReviewResult({ review, showDiff = true }: { review: PolicyReview; showDiff?: boolean }) {
  const { t } = useI18n();
  return (
    <div class="review" data-testid="policy-review">
      <p>
        {review.valid ? (
          <Badge tone="ok">{t("policy.valid")}</Badge>
        ) : (
          <Badge tone="bad">{t("policy.invalid")}</Badge>
        )}
      </p>
      <ConfigProblems review={review} />
      {review.valid && (
        <>
          {showDiff && <h4>{t("policy.diff")}</h4>}
          {showDiff &&
            (review.diff ? (
              <DiffView diff={review.diff} label={t("policy.diff")} />
            ) : (
              <p class="muted">{t("policy.noChange")}</p>
            ))}
          <h4>{t("nist.title")}</h4>
          <NistFlags flags={review.nist_flags} />
        </>
      )}
    </div>
  );
}

/** For a file-managed bank: the reviewed config to put into its file, with a copy button. */
function FileInstructions({ detail, review }: { detail: BankDetail; review: PolicyReview }) {
  const { t } = useI18n();
  const file = `tenant-configs/${detail.bank.config_file ?? `${detail.bank.id}.toml`}`;
  const text = review.normalized_toml ?? "";
  return (
    <div class="file-instructions" data-testid="file-instructions">
      <p class="notice">
        <strong>{t("policy.fileManagedTitle")}</strong> {t("policy.fileManagedSteps", { file })}
      </p>
      <h4>{t("policy.normalized", { file })}</h4>
      <TomlView text={text} label={t("policy.normalized", { file })} testId="normalized-toml" />
      <CopyButton text={text} label={t("policy.copyToml")} />
    </div>
  );
}

/** Editing a bank's policy: text, review (problems, diff, NIST flags), then save or file. */
export function BankPolicyPage({ bankId }: { bankId: string }) {
  const { t, lang } = useI18n();
  const bank = useLoad(
    () => run(api.GET("/v1/admin/banks/{bank_id}", { params: { path: { bank_id: bankId } } })),
    [bankId],
  );
  const [text, setText] = useState<string | null>(null);
  const [review, setReview] = useState<PolicyReview | null>(null);
  const [reviewedText, setReviewedText] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [fileManaged, setFileManaged] = useState(false);

  useEffect(() => {
    if (bank.data && text === null) setText(bank.data.policy_toml);
  }, [bank.data, text]);

  const detail = bank.data;
  const stale = review !== null && reviewedText !== text;

  const onReview = async () => {
    if (text === null) return;
    setBusy(true);
    setFailure(null);
    const outcome = await run(
      api.POST("/v1/admin/banks/{bank_id}/policy/review", {
        params: { path: { bank_id: bankId } },
        body: { policy_toml: text },
      }),
    );
    setBusy(false);
    if (outcome.ok) {
      setReview(outcome.data);
      setReviewedText(text);
    } else setFailure(outcome);
  };

  const onSave = async (event: Event) => {
    event.preventDefault();
    if (!detail || text === null) return;
    setBusy(true);
    setFailure(null);
    const outcome = await run(
      api.PUT("/v1/admin/banks/{bank_id}/policy", {
        params: { path: { bank_id: bankId } },
        body: { policy_toml: text, from_version: detail.bank.policy_version, reason: reason.trim() },
      }),
    );
    setBusy(false);
    if (outcome.ok) navigate(`/banks/${seg(bankId)}`);
    else if (outcome.problem?.code === "bank_file_managed") setFileManaged(true);
    else setFailure(outcome);
  };

  const isFile = detail?.bank.managed_by === "file" || fileManaged;
  return (
    <Page title={t("policy.editTitle", { bank: detail ? bankName(detail.bank, lang) : bankId })}>
      <p class="breadcrumb">
        <Link to="/banks">{t("banks.title")}</Link> ›{" "}
        <Link to={`/banks/${seg(bankId)}`}>{detail ? bankName(detail.bank, lang) : bankId}</Link> ›{" "}
        {t("policy.edit")}
      </p>
      {bank.failure && <ProblemMessage failure={bank.failure} />}
      {!detail && bank.loading && <Loading />}
      {detail && text !== null && (
        <>
          {isFile && (
            <p class="notice">
              {t("policy.fileManagedNote", {
                file: `tenant-configs/${detail.bank.config_file ?? `${bankId}.toml`}`,
              })}
            </p>
          )}
          <Section id="edit" title={t("policy.editor")}>
            <div class="field">
              <label for="policy-text">{t("policy.textLabel")}</label>
              <textarea
                id="policy-text"
                class="code-edit"
                rows={22}
                spellcheck={false}
                aria-describedby="policy-text-hint"
                value={text}
                onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
              />
              <p id="policy-text-hint" class="hint">
                {t("policy.textHint")}
              </p>
            </div>
            <p class="button-row">
              <button type="button" class="primary" disabled={busy} onClick={() => void onReview()}>
                {t("policy.review")}
              </button>
              <button
                type="button"
                class="secondary"
                disabled={busy}
                onClick={() => {
                  setText(detail.policy_toml);
                  setReview(null);
                }}
              >
                {t("policy.reset")}
              </button>
            </p>
          </Section>
          {failure && <ProblemMessage failure={failure} focus />}
          {review && (
            <Section id="review" title={t("policy.reviewTitle")}>
              {stale && (
                <p class="notice" role="status">
                  {t("policy.stale")}
                </p>
              )}
              <ReviewResult review={review} />
              {review.valid && !stale && review.diff && (
                isFile ? (
                  <FileInstructions detail={detail} review={review} />
                ) : (
                  <form class="form" onSubmit={(e) => void onSave(e)}>
                    <div class="field">
                      <label for="policy-reason">{t("reason.label")}</label>
                      <textarea
                        id="policy-reason"
                        rows={2}
                        required
                        maxLength={500}
                        aria-describedby="policy-reason-hint"
                        value={reason}
                        onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
                      />
                      <p id="policy-reason-hint" class="hint">
                        {t("policy.saveHint", { version: String(detail.bank.policy_version) })}
                      </p>
                    </div>
                    <button type="submit" class="primary" disabled={busy}>
                      {busy ? t("common.working") : t("policy.save")}
                    </button>
                  </form>
                )
              )}
            </Section>
          )}
        </>
      )}
    </Page>
  );
}
