// The dialog every state-changing action opens: what will happen, a reason for the audit
// trail, confirm or cancel. A native modal <dialog>: the rest of the page is inert while it is
// open (the focus stays inside), Esc closes it, its heading labels it, and the focus goes back
// to the button that opened it.

import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import type { Failure, Outcome } from "../api/client";
import { useI18n } from "../context";
import { ProblemMessage } from "./common";

export interface ReasonAction<T> {
  /** The dialog's title, e.g. 「ロック解除」. */
  title: string;
  /** What will happen. */
  description: ComponentChildren;
  /** The confirm button's text. */
  confirm: string;
  /** A destructive action gets a red confirm button. */
  danger?: boolean;
  /** Runs the action with the reason. */
  run: (reason: string) => Promise<Outcome<T>>;
  /** After success (the dialog is closed by then). */
  done: (data: T) => void;
}

/** The focusable elements of `root`, in tab order. */
function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(
    root.querySelectorAll<HTMLElement>(
      'button:not([disabled]), textarea:not([disabled]), input:not([disabled]), select:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])',
    ),
  );
}

/** A modal dialog asking for the reason of `action`; closed when `action` is `null`. */
export function ReasonDialog<T>({
  action,
  onClose,
}: {
  action: ReasonAction<T> | null;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  const field = useRef<HTMLTextAreaElement>(null);
  const opener = useRef<Element | null>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const id = useId();

  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (action && !el.open) {
      opener.current = document.activeElement;
      setReason("");
      setFailure(null);
      setBusy(false);
      el.showModal();
      field.current?.focus();
    } else if (!action && el.open) {
      el.close();
    }
  }, [action]);

  // Give the focus back to whatever opened the dialog.
  const restore = () => {
    const back = opener.current;
    opener.current = null;
    if (back instanceof HTMLElement && back.isConnected) back.focus();
  };

  const close = () => {
    dialog.current?.close();
  };

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    if (!action || busy) return;
    setBusy(true);
    setFailure(null);
    const outcome = await action.run(reason.trim());
    setBusy(false);
    if (outcome.ok) {
      close();
      action.done(outcome.data);
    } else {
      setFailure(outcome);
    }
  };

  // Tab and Shift+Tab cycle inside the dialog.
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== "Tab" || !dialog.current) return;
    const items = focusables(dialog.current);
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-desc`}
      onClose={() => {
        onClose();
        restore();
      }}
      onKeyDown={onKeyDown}
    >
      {action && (
        <form onSubmit={(e) => void onSubmit(e)} class="form">
          <h3 id={`${id}-title`} class="dialog-title">
            {action.title}
          </h3>
          <div id={`${id}-desc`} class="dialog-desc">
            {action.description}
          </div>
          <div class="field">
            <label for={`${id}-reason`}>{t("reason.label")}</label>
            <textarea
              id={`${id}-reason`}
              ref={field}
              name="reason"
              rows={3}
              required
              maxLength={500}
              aria-describedby={`${id}-hint`}
              value={reason}
              onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
            />
            <p id={`${id}-hint`} class="hint">
              {t("reason.hint")}
            </p>
          </div>
          {failure && <ProblemMessage failure={failure} />}
          <div class="dialog-buttons">
            <button type="submit" class={action.danger ? "danger" : "primary"} disabled={busy}>
              {busy ? t("common.working") : action.confirm}
            </button>
            <button type="button" class="secondary" onClick={close}>
              {t("common.cancel")}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** State for one page's reason dialog: `open(action)` shows it. */
export function useReasonDialog(): {
  action: ReasonAction<unknown> | null;
  open: <T>(action: ReasonAction<T>) => void;
  close: () => void;
} {
  const [action, setAction] = useState<ReasonAction<unknown> | null>(null);
  return {
    action,
    open: (next) => setAction(next as ReasonAction<unknown>),
    close: () => setAction(null),
  };
}
