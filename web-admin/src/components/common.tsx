// Small pieces every page uses: links, page frames, loading, problems, times, badges,
// copy buttons and secrets shown once.

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Failure, Outcome, Problem } from "../api/client";
import { useI18n } from "../context";
import { href, isPlainClick, navigate } from "../router";


/** A link to an app path, followed without reloading the page. */
export function Link({
  to,
  children,
  class: className,
  "aria-current": current,
}: {
  to: string;
  children: ComponentChildren;
  class?: string;
  "aria-current"?: "page" | undefined;
}) {
  return (
    <a
      class={className}
      aria-current={current}
      href={href(to)}
      onClick={(event: MouseEvent) => {
        if (!isPlainClick(event)) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/**
 * A page: its heading (where the focus goes after a navigation) and the document title.
 * `actions` sit beside the heading.
 */
export function Page({
  title,
  lead,
  actions,
  children,
  wide = true,
}: {
  title: string;
  lead?: ComponentChildren;
  actions?: ComponentChildren;
  children?: ComponentChildren;
  wide?: boolean;
}) {
  const { t } = useI18n();
  useEffect(() => {
    document.title = `${title} | ${t("app.title")}`;
  }, [title, t]);
  return (
    <section class={wide ? "page" : "page narrow"} aria-labelledby="page-title">
      <div class="page-head">
        <h2 id="page-title" tabIndex={-1}>
          {title}
        </h2>
        {actions && <div class="page-actions">{actions}</div>}
      </div>
      {lead && <p class="lead">{lead}</p>}
      {children}
    </section>
  );
}

/** A titled part of a page. */
export function Section({
  id,
  title,
  actions,
  children,
}: {
  id: string;
  title: string;
  actions?: ComponentChildren;
  children?: ComponentChildren;
}) {
  return (
    <section class="panel" aria-labelledby={`${id}-title`} id={id}>
      <div class="panel-head">
        <h3 id={`${id}-title`}>{title}</h3>
        {actions && <div class="panel-actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

export interface Loaded<T> {
  /** The last successful answer. */
  data: T | null;
  /** The last failure (cleared by a success). */
  failure: Failure | null;
  loading: boolean;
  /** Asks again. */
  reload: () => void;
}

/** Loads with `load` when `deps` change; keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<Outcome<T>>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; failure: Failure | null; loading: boolean }>({
    data: null,
    failure: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    void load().then((outcome) => {
      if (!current) return;
      if (outcome.ok) setState({ data: outcome.data, failure: null, loading: false });
      else setState({ data: null, failure: outcome, loading: false });
    });
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** "Loading…" for a part of a page. */
export function Loading() {
  const { t } = useI18n();
  return (
    <p class="loading" role="status">
      {t("common.loading")}
    </p>
  );
}

/**
 * A failed call: the server's localized `detail` (and the broken rules of a refused
 * password), its code and request ID for support; or "cannot reach the server".
 */
export function ProblemMessage({
  failure,
  focus = false,
}: {
  failure: Failure | { problem: Problem | null };
  focus?: boolean;
}) {
  const { t } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) box.current?.focus();
  }, [failure, focus]);
  const problem = failure.problem;
  return (
    <div class="problem" role="alert" tabIndex={-1} ref={box} data-code={problem?.code ?? "network"}>
      {problem ? (
        <>
          <p class="problem-detail">{problem.detail}</p>
          {problem.violations && problem.violations.length > 0 && (
            <ul class="problem-violations">
              {problem.violations.map((v) => (
                <li key={v.code}>{v.message}</li>
              ))}
            </ul>
          )}
          {problem.errors && problem.errors.length > 0 && (
            <ul class="problem-violations" data-testid="problem-lines">
              {problem.errors.map((e, i) => (
                <li key={`${e.line}-${e.code}-${i}`}>
                  {t("problem.line", { line: String(e.line) })}: {e.message}
                </li>
              ))}
            </ul>
          )}
          <p class="problem-meta">
            {t("problem.code")}: <code>{problem.code}</code> · {t("problem.requestId")}:{" "}
            <code>{problem.request_id}</code>
          </p>
        </>
      ) : (
        <p class="problem-detail">{t("problem.network")}</p>
      )}
    </div>
  );
}

/** A time in Japan, with the zone named; the machine-readable value stays in `datetime`. */
export function Time({ value, empty = "—" }: { value: string | undefined | null; empty?: string }) {
  const { dateTime } = useI18n();
  if (!value) return <span class="muted">{empty}</span>;
  return <time dateTime={value}>{dateTime(value)}</time>;
}

export type Tone = "ok" | "warn" | "bad" | "neutral" | "info";

/** A state as a word with a colour (the word carries the meaning, not the colour). */
export function Badge({ tone, children }: { tone: Tone; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/** A yes/no value in words. */
export function YesNo({ value }: { value: boolean }) {
  const { t } = useI18n();
  return <>{value ? t("common.yes") : t("common.no")}</>;
}

/** Copies `text` to the clipboard and says so (or says to copy by hand). */
export function CopyButton({ text, label }: { text: string; label?: string }) {
  const { t } = useI18n();
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <span class="copy">
      <button type="button" class="secondary small" onClick={() => void copy()}>
        {label ?? t("common.copy")}
      </button>
      <span role="status" class="copy-status">
        {state === "copied" ? t("common.copied") : state === "failed" ? t("common.copyFailed") : ""}
      </span>
    </span>
  );
}

/**
 * A secret the server shows only once (an API key, a one-time or temporary password): the
 * text, a copy button and a warning. The focus moves here so it is not missed.
 */
export function OnceSecret({
  title,
  value,
  warning,
  testId,
  onDone,
}: {
  title: string;
  value: string;
  warning: string;
  testId: string;
  onDone?: () => void;
}) {
  const { t } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.focus();
  }, [value]);
  return (
    <div class="once" role="region" aria-label={title} tabIndex={-1} ref={box}>
      <p class="once-title">{title}</p>
      <p class="once-value">
        <code data-testid={testId}>{value}</code>
      </p>
      <p class="once-warning">
        <strong>{t("common.warning")}:</strong> {warning}
      </p>
      <p class="once-actions">
        <CopyButton text={value} />
        {onDone && (
          <button type="button" class="secondary small" onClick={onDone}>
            {t("common.doneHide")}
          </button>
        )}
      </p>
    </div>
  );
}

/** A success message after an action, announced politely. */
export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice-ok" role="status">
      {children}
    </p>
  );
}

/** A term and its value in a description list. */
export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field-row">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

/** Previous/next buttons over a cursor-paged list. */
export function Pager({
  page,
  hasPrevious,
  next,
  onPrevious,
  onNext,
}: {
  page: number;
  hasPrevious: boolean;
  next: string | undefined;
  onPrevious: () => void;
  onNext: (cursor: string) => void;
}) {
  const { t, num } = useI18n();
  if (!hasPrevious && !next) return null;
  return (
    <nav class="pager" aria-label={t("pager.label")}>
      <button type="button" class="secondary small" disabled={!hasPrevious} onClick={onPrevious}>
        {t("pager.previous")}
      </button>
      <span class="pager-page">{t("pager.page", { page: num(page) })}</span>
      <button
        type="button"
        class="secondary small"
        disabled={!next}
        onClick={() => next && onNext(next)}
      >
        {t("pager.next")}
      </button>
    </nav>
  );
}
