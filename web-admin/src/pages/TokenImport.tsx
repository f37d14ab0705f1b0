import { useState } from "preact/hooks";
import { api, run, type Failure, type TokenImport } from "../api/client";
import { Badge, Notice, Page, ProblemMessage, Section } from "../components/common";
import { useAbilities, useI18n } from "../context";

type Format = "pskc" | "csv";

/** The format a file's name suggests: `.csv` is CSV, anything else PSKC (`.pskcxml`, `.xml`). */
function formatOf(name: string): Format {
  return name.toLowerCase().endsWith(".csv") ? "csv" : "pskc";
}

/**
 * Import hardware tokens from their vendor's seed file: check it first (nothing is stored, the
 * tokens are listed), then import every token of it, or none. A fault is shown with its line;
 * no message ever quotes the file. The pre-shared key is sent with the file and never kept.
 */
export function TokenImportPage() {
  const { t, num } = useI18n();
  const can = useAbilities();
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<Format>("pskc");
  const [psk, setPsk] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [result, setResult] = useState<TokenImport | null>(null);

  if (!can.administer) {
    return (
      <Page title={t("import.title")}>
        <p>{t("common.platformAdminOnly")}</p>
      </Page>
    );
  }

  const send = async (checkOnly: boolean) => {
    if (!file) return;
    setBusy(true);
    setFailure(null);
    const content = await file.text();
    const outcome = await run(
      api.POST("/v1/admin/token-imports", {
        body: {
          format,
          content,
          check_only: checkOnly,
          ...(format === "pskc" && psk.trim() ? { pre_shared_key: psk.trim() } : {}),
        },
      }),
    );
    setBusy(false);
    if (outcome.ok) {
      setResult(outcome.data);
      if (outcome.data.stored) setPsk("");
    } else {
      setResult(null);
      setFailure(outcome);
    }
  };

  const checked = result && !result.stored;
  return (
    <Page title={t("import.title")} lead={t("import.intro")}>
      <form
        class="form"
        aria-label={t("import.title")}
        onSubmit={(e) => {
          e.preventDefault();
          void send(true);
        }}
      >
        <div class="field">
          <label for="import-file">{t("import.file")}</label>
          <input
            id="import-file"
            type="file"
            accept=".pskcxml,.pskc,.xml,.csv,.txt"
            required
            aria-describedby="import-file-hint"
            onChange={(e) => {
              const chosen = (e.target as HTMLInputElement).files?.[0] ?? null;
              setFile(chosen);
              setResult(null);
              setFailure(null);
              if (chosen) setFormat(formatOf(chosen.name));
            }}
          />
          <p id="import-file-hint" class="hint">
            {t("import.fileHint")}
          </p>
        </div>
        <div class="field">
          <label for="import-format">{t("import.format")}</label>
          <select
            id="import-format"
            value={format}
            onChange={(e) => {
              setFormat((e.target as HTMLSelectElement).value as Format);
              setResult(null);
            }}
          >
            <option value="pskc">{t("import.formatPskc")}</option>
            <option value="csv">{t("import.formatCsv")}</option>
          </select>
        </div>
        {format === "pskc" && (
          <div class="field">
            <label for="import-psk">{t("import.psk")}</label>
            <input
              id="import-psk"
              type="password"
              autocomplete="off"
              spellcheck={false}
              aria-describedby="import-psk-hint"
              value={psk}
              onInput={(e) => {
                setPsk((e.target as HTMLInputElement).value);
                setResult(null);
              }}
            />
            <p id="import-psk-hint" class="hint">
              {t("import.pskHint")}
            </p>
          </div>
        )}
        <div class="button-row">
          <button type="submit" class={checked ? "secondary" : "primary"} disabled={busy || !file}>
            {busy ? t("common.working") : t("import.check")}
          </button>
          {checked && (
            <button type="button" class="primary" disabled={busy} onClick={() => void send(false)}>
              {t("import.run", { count: num(result.count) })}
            </button>
          )}
        </div>
      </form>
      {failure && <ProblemMessage failure={failure} focus />}
      {result && (
        <Section
          id="import-result"
          title={result.stored ? t("import.stored", { count: num(result.count) }) : t("import.checked", { count: num(result.count) })}
        >
          {result.stored && <Notice>{t("import.storedNotice")}</Notice>}
          <p class="muted small">
            {t("import.sha256")}: <code>{result.file_sha256}</code>
          </p>
          <div class="table-wrap">
            <table data-testid="import-table">
              <caption class="visually-hidden">{t("import.tokens")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("import.line")}</th>
                  <th scope="col">{t("customer.credentialId")}</th>
                  <th scope="col">{t("import.kind")}</th>
                  <th scope="col">{t("import.algorithm")}</th>
                  <th scope="col">{t("import.digits")}</th>
                  <th scope="col">{t("import.period")}</th>
                </tr>
              </thead>
              <tbody>
                {result.tokens.map((token) => (
                  <tr key={token.credential_id}>
                    <td>{num(token.line)}</td>
                    <td>
                      <code>{token.credential_id}</code>
                    </td>
                    <td>
                      <Badge tone="neutral">{token.kind.toUpperCase()}</Badge>
                    </td>
                    <td>{token.algorithm}</td>
                    <td>{num(token.digits)}</td>
                    <td>{token.period ? t("import.seconds", { seconds: num(token.period) }) : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      )}
    </Page>
  );
}
