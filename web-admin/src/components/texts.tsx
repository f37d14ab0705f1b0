// Texts from the server shown as they are: a QR code's SVG, a policy's TOML, a unified diff,
// the NIST SP 800-63B flags and a config's problems.

import { useEffect, useRef } from "preact/hooks";
import type { NistFlag, PolicyReview } from "../api/client";
import { useI18n } from "../context";

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Removes from an SVG tree anything that could run or load something (scripts, foreign
 * content, event handlers, links, style attributes the CSP would refuse anyway).
 */
function scrub(root: Element): void {
  for (const el of Array.from(root.querySelectorAll("script, foreignObject, style, a, image, use"))) {
    el.remove();
  }
  for (const el of [root, ...Array.from(root.querySelectorAll("*"))]) {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on") || name === "style" || name.endsWith("href")) {
        el.removeAttribute(attr.name);
      }
    }
  }
}

/**
 * An SVG image from the server (the QR code), inserted safely: parsed as XML with DOMParser,
 * only its <svg> element imported into the page (never `innerHTML`), scrubbed of anything
 * active, and given an accessible name.
 */
export function ServerSvg({ markup, label, class: className }: { markup: string; label: string; class?: string }) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const target = holder.current;
    if (!target) return;
    target.replaceChildren();
    const parsed = new DOMParser().parseFromString(markup, "image/svg+xml");
    const svg = parsed.documentElement;
    if (svg.namespaceURI !== SVG_NS || svg.localName !== "svg" || parsed.querySelector("parsererror")) {
      return;
    }
    const imported = document.importNode(svg, true);
    scrub(imported);
    imported.setAttribute("role", "img");
    imported.setAttribute("aria-label", label);
    imported.setAttribute("focusable", "false");
    target.appendChild(imported);
  }, [markup, label]);
  return <div class={className} ref={holder} />;
}

/** A policy as read-only TOML, with a label for assistive technology. */
export function TomlView({ text, label, testId }: { text: string; label: string; testId?: string }) {
  return (
    <pre class="code" tabIndex={0} role="region" aria-label={label} data-testid={testId}>
      <code>{text}</code>
    </pre>
  );
}

/** A unified diff, each line coloured by its kind (the +/- marks stay, so colour is not needed). */
export function DiffView({ diff, label }: { diff: string; label: string }) {
  const lines = diff.replace(/\n$/, "").split("\n");
  return (
    <pre class="code diff" tabIndex={0} role="region" aria-label={label} data-testid="policy-diff">
      <code>
        {lines.map((line, i) => {
          const kind = line.startsWith("+++") || line.startsWith("---")
            ? "diff-file"
            : line.startsWith("@@")
              ? "diff-hunk"
              : line.startsWith("+")
                ? "diff-add"
                : line.startsWith("-")
                  ? "diff-del"
                  : "diff-same";
          return (
            <span key={i} class={`diff-line ${kind}`}>
              {line}
              {"\n"}
            </span>
          );
        })}
      </code>
    </pre>
  );
}

/** The values of a policy that deviate from NIST SP 800-63B (flagged, not forbidden). */
export function NistFlags({ flags }: { flags: NistFlag[] }) {
  const { t } = useI18n();
  if (flags.length === 0) {
    return <p class="muted" data-testid="nist-flags">{t("nist.none")}</p>;
  }
  return (
    <div class="nist" data-testid="nist-flags">
      <p class="nist-intro">{t("nist.intro", { count: String(flags.length) })}</p>
      <ul class="nist-list">
        {flags.map((flag) => (
          <li key={flag.code + flag.key}>
            <code>{flag.key}</code>: {flag.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A config's problems, as `mamori tenants check` names them. */
export function ConfigProblems({ review }: { review: PolicyReview }) {
  const { t } = useI18n();
  if (review.problems.length === 0) return null;
  return (
    <div class="problem" role="alert" data-testid="policy-problems">
      <p class="problem-detail">{t("policy.problems", { count: String(review.problems.length) })}</p>
      <ul class="problem-violations">
        {review.problems.map((p, i) => (
          <li key={i}>
            {p.location && <code>{p.location}</code>}
            {p.location && ": "}
            {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
