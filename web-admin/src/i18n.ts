// Every text the console shows, in Japanese and English. The Japanese dictionary defines the
// keys; the English one must have exactly the same keys (a missing or extra key is a type
// error), and `t()` only accepts a key that exists.

import { useEffect, useState } from "preact/hooks";

export type Lang = "ja" | "en";

export const LANGS: readonly Lang[] = ["ja", "en"];

const ja = {
  "app.title": "Mamori 管理コンソール",
  "app.skipToMain": "本文へ移動",
  "lang.label": "表示言語",
  "signIn.title": "サインイン",
  "signIn.intro": "運用担当者のアカウントでサインインしてください。",
  "signIn.operatorId": "運用担当者ID",
  "signIn.password": "パスワード",
  "signIn.code": "セキュリティコード（6桁）",
  "signIn.codeHint": "認証アプリに表示されている6桁の数字",
  "signIn.submit": "サインイン",
  "signIn.unavailable":
    "管理APIはまだ利用できません。サインインは今後のリリースで提供されます。",
  "notFound.title": "ページが見つかりません",
  "notFound.body": "お探しのページは存在しないか、移動した可能性があります。",
  "notFound.back": "サインイン画面に戻る",
  "status.label": "サーバーの状態",
  "status.checking": "確認中…",
  "status.ready": "稼働中（データベース: {database}）",
  "status.notReady": "利用できません（{code}）",
  "status.unreachable": "サーバーに接続できません",
} as const satisfies Record<string, string>;

export type MessageKey = keyof typeof ja;

const en: Record<MessageKey, string> = {
  "app.title": "Mamori Admin",
  "app.skipToMain": "Skip to main content",
  "lang.label": "Language",
  "signIn.title": "Sign in",
  "signIn.intro": "Sign in with your operator account.",
  "signIn.operatorId": "Operator ID",
  "signIn.password": "Password",
  "signIn.code": "Security code (6 digits)",
  "signIn.codeHint": "The 6-digit number shown in your authenticator app",
  "signIn.submit": "Sign in",
  "signIn.unavailable":
    "The admin API is not available yet. Signing in comes with a later release.",
  "notFound.title": "Page not found",
  "notFound.body": "The page you are looking for does not exist or has moved.",
  "notFound.back": "Back to sign-in",
  "status.label": "Server status",
  "status.checking": "Checking…",
  "status.ready": "Ready (database: {database})",
  "status.notReady": "Unavailable ({code})",
  "status.unreachable": "Cannot reach the server",
};

const dictionaries: Record<Lang, Record<MessageKey, string>> = { ja, en };

/** Each language's name, written in that language (for the switch). */
export const LANG_NAMES: Record<Lang, string> = { ja: "日本語", en: "English" };

const STORAGE_KEY = "mamori.admin.lang";

function isLang(value: unknown): value is Lang {
  return value === "ja" || value === "en";
}

/** The remembered choice, else Japanese when the browser prefers Japanese, else English. */
export function initialLang(): Lang {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    if (isLang(stored)) return stored;
  } catch {
    // Storage can be disabled; fall back to the browser's language.
  }
  return navigator.language.toLowerCase().startsWith("ja") ? "ja" : "en";
}

/** The text for `key` in `lang`, with `{name}` placeholders filled from `params`. */
export function translate(
  lang: Lang,
  key: MessageKey,
  params: Record<string, string> = {},
): string {
  return dictionaries[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    params[name] ?? whole,
  );
}

export type Translate = (key: MessageKey, params?: Record<string, string>) => string;

/** The current language, a setter that remembers it, and `t()` bound to it. */
export function useLang(): [Lang, (lang: Lang) => void, Translate] {
  const [lang, setLangState] = useState<Lang>(initialLang);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const setLang = (next: Lang) => {
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Not remembered, but still switched for this page.
    }
    setLangState(next);
  };
  const t: Translate = (key, params) => translate(lang, key, params);
  return [lang, setLang, t];
}
