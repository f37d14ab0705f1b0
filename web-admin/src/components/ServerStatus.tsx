import { useEffect, useState } from "preact/hooks";
import { api } from "../api/client";
import type { Translate } from "../i18n";

type State =
  | { kind: "checking" }
  | { kind: "ready"; database: string }
  | { kind: "notReady"; code: string }
  | { kind: "unreachable" };

/** How often the footer asks the server again. */
const REFRESH_MS = 30_000;

/** The server's readiness (GET /readyz, operation `getReadiness`), refreshed every 30 s. */
export function ServerStatus({ t }: { t: Translate }) {
  const [state, setState] = useState<State>({ kind: "checking" });

  useEffect(() => {
    let stopped = false;
    const check = async () => {
      let next: State;
      try {
        const { data, error } = await api.GET("/readyz");
        if (data) next = { kind: "ready", database: data.database };
        else next = { kind: "notReady", code: error?.code ?? "unknown" };
      } catch {
        next = { kind: "unreachable" };
      }
      if (!stopped) setState(next);
    };
    void check();
    const timer = window.setInterval(() => void check(), REFRESH_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, []);

  let text: string;
  switch (state.kind) {
    case "checking":
      text = t("status.checking");
      break;
    case "ready":
      text = t("status.ready", { database: state.database });
      break;
    case "notReady":
      text = t("status.notReady", { code: state.code });
      break;
    case "unreachable":
      text = t("status.unreachable");
      break;
  }

  return (
    <p class="server-status" data-state={state.kind}>
      <span class="server-status-label">{t("status.label")}:</span>{" "}
      <span role="status" data-testid="server-status">
        <span class="server-status-dot" aria-hidden="true" /> {text}
      </span>
    </p>
  );
}
