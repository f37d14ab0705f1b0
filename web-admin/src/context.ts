// The signed-in session and the language, shared by every page through Preact contexts.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { AdminSession, Role } from "./api/client";
import type { I18n } from "./i18n";

export interface SessionContextValue {
  session: AdminSession;
  /** Replaces the session (after a setup step) or ends it in the console (`null`). */
  setSession: (session: AdminSession | null) => void;
  /** Signs out on the server, then shows the sign-in page. */
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

/** The signed-in operator's session; only under a signed-in layout. */
export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside a session");
  return value;
}

export const I18nContext = createContext<I18n | null>(null);

/** Texts and formats in the console's language. */
export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error("useI18n outside the app");
  return value;
}

/** What the signed-in operator may do; the server decides anyway (a 403 is shown). */
export interface Abilities {
  role: Role;
  /** The one bank of a bank operator (or of an auditor limited to a bank). */
  ownBank: string | null;
  /** Platform admin: banks, policies, keys, operators, suspensions. */
  administer: boolean;
  /** Sees every bank: the platform trail, the whole outbox. */
  seesPlatform: boolean;
  /** May act on the customers of `bank`. */
  helps: (bank: string) => boolean;
}

export function abilitiesOf(session: AdminSession): Abilities {
  const { role, bank_id } = session.operator;
  const ownBank = bank_id ?? null;
  return {
    role,
    ownBank,
    administer: role === "platform_admin",
    seesPlatform: ownBank === null,
    helps: (bank) =>
      role === "platform_admin" || (role === "bank_operator" && (ownBank === null || ownBank === bank)),
  };
}

/** The signed-in operator's abilities. */
export function useAbilities(): Abilities {
  return abilitiesOf(useSession().session);
}
