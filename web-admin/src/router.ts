// Client-side routes under /admin/ with the History API. The server answers every
// /admin/<path> without a file extension with index.html, so a reload or a shared link lands
// here and this module picks the page. Search forms keep their fields in the query string, so
// a result page can be linked, reloaded and reached with the back button.

import { useEffect, useState } from "preact/hooks";

export const BASE = import.meta.env.BASE_URL.replace(/\/$/, ""); // "/admin"

export type Route =
  | { page: "signIn" }
  | { page: "setup" }
  | { page: "home" }
  | { page: "banks" }
  | { page: "bankNew" }
  | { page: "bank"; bankId: string }
  | { page: "bankPolicy"; bankId: string }
  | { page: "customers" }
  | { page: "customer"; bankId: string; userId: string }
  | { page: "credentials" }
  | { page: "credential"; credentialId: string }
  | { page: "audit" }
  | { page: "operators" }
  | { page: "outbox" }
  | { page: "tokenImport" }
  | { page: "notFound"; path: string };

export type PageName = Route["page"];

const SEGMENT = "([^/]+)";

/** Patterns in order; the first match wins. */
const PATTERNS: [RegExp, (m: string[]) => Route][] = [
  [/^\/$/, () => ({ page: "home" })],
  [/^\/sign-in$/, () => ({ page: "signIn" })],
  [/^\/setup$/, () => ({ page: "setup" })],
  [/^\/banks$/, () => ({ page: "banks" })],
  [/^\/banks\/new$/, () => ({ page: "bankNew" })],
  [new RegExp(`^/banks/${SEGMENT}$`), (m) => ({ page: "bank", bankId: m[0] ?? "" })],
  [
    new RegExp(`^/banks/${SEGMENT}/policy$`),
    (m) => ({ page: "bankPolicy", bankId: m[0] ?? "" }),
  ],
  [
    new RegExp(`^/banks/${SEGMENT}/customers/${SEGMENT}$`),
    (m) => ({ page: "customer", bankId: m[0] ?? "", userId: m[1] ?? "" }),
  ],
  [/^\/customers$/, () => ({ page: "customers" })],
  [/^\/credentials$/, () => ({ page: "credentials" })],
  [
    new RegExp(`^/credentials/${SEGMENT}$`),
    (m) => ({ page: "credential", credentialId: m[0] ?? "" }),
  ],
  [/^\/audit$/, () => ({ page: "audit" })],
  [/^\/operators$/, () => ({ page: "operators" })],
  [/^\/outbox$/, () => ({ page: "outbox" })],
  [/^\/token-imports$/, () => ({ page: "tokenImport" })],
];

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The route for a location path such as `/admin/` or `/admin/banks/x`. */
export function match(pathname: string): Route {
  const inApp = pathname === BASE || pathname.startsWith(`${BASE}/`);
  const raw = inApp ? pathname.slice(BASE.length) || "/" : pathname;
  const path = raw.length > 1 ? raw.replace(/\/$/, "") : raw;
  if (inApp) {
    for (const [pattern, route] of PATTERNS) {
      const found = pattern.exec(path);
      if (found) return route(found.slice(1).map(decode));
    }
  }
  return { page: "notFound", path };
}

/** The URL of an app path (`/` → `/admin/`). */
export function href(path: string): string {
  return `${BASE}${path}`;
}

/** An app path with a query string of the non-empty values of `query`. */
export function withQuery(path: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value) params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** A path segment, escaped. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

const listeners = new Set<() => void>();

function changed(): void {
  for (const listener of listeners) listener();
}

/** Goes to an app path (with its query) without reloading, as a link would. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, "", href(path));
  else window.history.pushState(null, "", href(path));
  window.scrollTo(0, 0);
  changed();
}

/** The current app path with its query (`/banks?x=1`), for coming back after sign-in. */
export function currentPath(): string {
  const { pathname, search } = window.location;
  const inApp = pathname.startsWith(`${BASE}/`) ? pathname.slice(BASE.length) : "/";
  return `${inApp}${search}`;
}

export interface Location {
  route: Route;
  query: URLSearchParams;
  /** Changes on every navigation, also to the same route with another query. */
  key: string;
}

function locate(): Location {
  const { pathname, search } = window.location;
  return { route: match(pathname), query: new URLSearchParams(search), key: pathname + search };
}

/** The current route and query; re-renders on navigation and on the browser's back/forward. */
export function useLocation(): Location {
  const [location, setLocation] = useState<Location>(locate);
  useEffect(() => {
    const update = () => setLocation(locate());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return location;
}

/** A link click that the app handles itself (not a new tab, not a modified click). */
export function isPlainClick(event: MouseEvent): boolean {
  return !(event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey);
}
