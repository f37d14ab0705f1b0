// Client-side routes under /admin/ with the History API. The server answers every
// /admin/<path> without a file extension with index.html, so a reload or a shared link lands
// here and this module picks the page.

import { useEffect, useState } from "preact/hooks";

export const BASE = import.meta.env.BASE_URL.replace(/\/$/, ""); // "/admin"

export type Route = { page: "signIn" } | { page: "notFound"; path: string };

/** The route for a location path such as `/admin/` or `/admin/banks/x`. */
export function match(pathname: string): Route {
  const inApp = pathname === BASE || pathname.startsWith(`${BASE}/`);
  const path = inApp ? pathname.slice(BASE.length) || "/" : pathname;
  if (inApp && (path === "/" || path === "/sign-in")) return { page: "signIn" };
  return { page: "notFound", path };
}

/** The URL of an app path (`/` → `/admin/`). */
export function href(path: string): string {
  return `${BASE}${path}`;
}

const listeners = new Set<() => void>();

/** Goes to an app path without reloading, as a link would. */
export function navigate(path: string): void {
  window.history.pushState(null, "", href(path));
  for (const listener of listeners) listener();
}

/** The current route; re-renders on navigation and on the browser's back/forward. */
export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => match(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(match(window.location.pathname));
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
