// Shared setup of the browser tests: a page in a given browser language, checks that nothing
// went wrong in the browser (console errors, CSP violations, uncaught exceptions), screenshots
// into MAMORI_ARTIFACTS_DIR and the axe-core accessibility check.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type Page } from "@playwright/test";

export { expect };

const artifacts = join(process.env.MAMORI_ARTIFACTS_DIR ?? "test-results", "screenshots");

export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
      await use(errors);
      expect(errors, "the browser reported errors (a CSP violation shows up here)").toEqual([]);
    },
    { auto: true },
  ],
});

/** Saves a full-page screenshot as `<name>.png` in the artifacts directory. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/** Fails on any serious or critical axe-core violation, naming each rule and element. */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const blocking = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(blocking, "serious or critical accessibility violations").toEqual([]);
}

/** The texts the tests look for, per language (kept apart from the app's own dictionary on purpose). */
export const TEXT = {
  ja: {
    title: "Mamori 管理コンソール",
    signIn: "サインイン",
    operatorId: "運用担当者ID",
    password: "パスワード",
    code: "セキュリティコード（6桁）",
    unavailable: "管理APIはまだ利用できません。",
    notFound: "ページが見つかりません",
    back: "サインイン画面に戻る",
    ready: "稼働中（データベース: ok）",
  },
  en: {
    title: "Mamori Admin",
    signIn: "Sign in",
    operatorId: "Operator ID",
    password: "Password",
    code: "Security code (6 digits)",
    unavailable: "The admin API is not available yet.",
    notFound: "Page not found",
    back: "Back to sign-in",
    ready: "Ready (database: ok)",
  },
} as const;

export const BROWSER_LOCALE = { ja: "ja-JP", en: "en-US" } as const;
