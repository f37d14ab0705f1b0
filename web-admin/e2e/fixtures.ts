// Shared setup of the browser tests: a page in a given browser language, checks that nothing
// went wrong in the browser (console errors, CSP violations, uncaught exceptions), screenshots
// into MAMORI_ARTIFACTS_DIR and the axe-core accessibility check.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type Page } from "@playwright/test";

export { expect };

const artifacts = join(process.env.MAMORI_ARTIFACTS_DIR ?? "test-results", "screenshots");

/**
 * An API answer with a problem (401 before signing in, 404 for another bank's customer…) is
 * part of the console's normal work and shown on the page, where the tests check it; Chromium
 * still logs each such answer as a console error, which is not one.
 */
const EXPECTED_ANSWER = /^Failed to load resource: the server responded with a status of 4\d\d /;

/** Collects what the browser reports as going wrong on `page` (a CSP violation shows up here). */
export function watchErrors(page: Page, errors: string[]): void {
  page.on("console", (message) => {
    if (message.type() === "error" && !EXPECTED_ANSWER.test(message.text())) {
      errors.push(`console: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
}

export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      watchErrors(page, errors);
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

/**
 * Fails on any serious or critical axe-core violation, naming each rule and element. Only the
 * violations are detailed (axe's `resultTypes`), which makes each check about a fifth faster.
 */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).options({ resultTypes: ["violations"] }).analyze();
  const blocking = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(blocking, "serious or critical accessibility violations").toEqual([]);
}

/** A page checked the same way every time: accessible, then photographed as `<name>-<lang>`. */
export async function checkPage(page: Page, name: string, lang: Lang): Promise<void> {
  await expectAccessible(page);
  await screenshot(page, `${name}-${lang}`);
}

export type Lang = "ja" | "en";

/** The texts the tests look for, per language (kept apart from the app's own dictionary on purpose). */
export const TEXT = {
  ja: {
    title: "Mamori 管理コンソール",
    signIn: "サインイン",
    signOut: "サインアウト",
    operatorId: "運用担当者ID",
    password: "パスワード",
    code: "セキュリティコード（6桁）",
    loginFailed: "運用担当者ID、パスワード、セキュリティコードのいずれかが正しくないか",
    sessionEnded: "セッションが終了しました",
    notFound: "ページが見つかりません",
    back: "サインイン画面に戻る",
    ready: "稼働中（データベース: ok）",
    setup: "初回設定",
    currentPassword: "現在のパスワード（ワンタイムパスワード）",
    newPassword: "新しいパスワード",
    newPasswordAgain: "新しいパスワード（確認）",
    setPassword: "パスワードを設定",
    totpTitle: "認証アプリの登録",
    finishEnrollment: "登録を完了",
    passwordRejected: "12",
    nav: { banks: "銀行", customers: "顧客検索", credentials: "クレデンシャル", tokenImport: "トークン取込", audit: "監査ログ", operators: "運用担当者", outbox: "送信メール" },
    tokenImport: "ハードウェアトークンの取込",
    seedFile: "シードファイル",
    psk: "事前共有鍵（16進）",
    checkFile: "内容を確認",
    importThree: "3件を取り込む",
    importReady: "取込可能: 3件",
    imported: "3件を取り込みました",
    serialTaken: "12行目: このシリアル番号のトークンは登録済みです。",
    banks: "銀行",
    addBank: "金融機関を追加",
    bankId: "金融機関ID",
    policyText: "設定ファイルの内容（TOML）",
    review: "確認する",
    valid: "保存できます",
    reason: "理由（監査ログに記録されます）",
    createBank: "金融機関を追加",
    managedByAdmin: "管理コンソール",
    apiKeyLabel: "新しいキーのラベル",
    createApiKey: "API キーを発行",
    apiKeyWarning: "二度と表示できません",
    newApiKey: "新しい API キー",
    customers: "顧客検索",
    bank: "金融機関",
    contractNumber: "契約者番号",
    search: "検索",
    locked: "ロック中",
    inUse: "利用中",
    revoked: "失効",
    unlock: "ロック解除",
    revoke: "失効",
    cancel: "キャンセル",
    unlockDone: "トークンのロックを解除しました。",
    revokeDone: "トークンを失効させました。",
    unlockOp: "ロック解除（トークン）",
    resetPassword: "パスワード再設定",
    temporaryTitle: "仮パスワード",
    temporaryWarning: "二度と表示できません",
    suspend: "利用停止",
    resume: "利用再開",
    bankSuspended: "利用停止中",
    bankActive: "利用中",
    revokeKey: "失効",
    keyRevoked: "失効",
    credentialTitle: "クレデンシャル",
    audit: "監査ログ",
    verify: "改ざんの検査",
    intact: "改ざんなし",
    hourly: "過去24時間（1時間ごと、日本時間）",
    daily: "過去30日間（1日ごと、日本時間）",
    codesRejected: "コード誤り",
    locks: "ロック",
    editPolicy: "設定を編集",
    diff: "現在の設定との差分",
    save: "保存する",
    fileManaged: "ファイルに反映してください。",
    operators: "運用担当者",
    loginName: "運用担当者ID",
    displayName: "氏名",
    role: "役割",
    operatorBank: "担当金融機関",
    bankOperator: "金融機関担当者",
    addOperator: "運用担当者を追加",
    outbox: "送信メール",
    customerNotFound: "顧客が見つかりません",
    notFoundDetail: "指定されたリソースは存在しません。",
    jst: /\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} JST/,
  },
  en: {
    title: "Mamori Admin",
    signIn: "Sign in",
    signOut: "Sign out",
    operatorId: "Operator ID",
    password: "Password",
    code: "Security code (6 digits)",
    loginFailed: "The operator ID, password or security code is wrong",
    sessionEnded: "Your session ended",
    notFound: "Page not found",
    back: "Back to sign-in",
    ready: "Ready (database: ok)",
    setup: "First sign-in setup",
    currentPassword: "Current password (one-time password)",
    newPassword: "New password",
    newPasswordAgain: "New password (again)",
    setPassword: "Set password",
    totpTitle: "Enroll your authenticator app",
    finishEnrollment: "Finish enrollment",
    passwordRejected: "12",
    nav: { banks: "Banks", customers: "Customers", credentials: "Credentials", tokenImport: "Token import", audit: "Audit", operators: "Operators", outbox: "Outbox" },
    tokenImport: "Import hardware tokens",
    seedFile: "Seed file",
    psk: "Pre-shared key (hex)",
    checkFile: "Check the file",
    importThree: "Import 3 tokens",
    importReady: "Ready to import: 3 tokens",
    imported: "3 tokens imported",
    serialTaken: "Line 12: A token with this serial number exists already.",
    banks: "Banks",
    addBank: "Add a bank",
    bankId: "Bank ID",
    policyText: "Config file contents (TOML)",
    review: "Review",
    valid: "Can be saved",
    reason: "Reason (recorded in the audit trail)",
    createBank: "Add the bank",
    managedByAdmin: "Admin console",
    apiKeyLabel: "Label of the new key",
    createApiKey: "Create an API key",
    apiKeyWarning: "never again",
    newApiKey: "New API key",
    customers: "Customers",
    bank: "Bank",
    contractNumber: "Contract number",
    search: "Search",
    locked: "Locked",
    inUse: "In use",
    revoked: "Revoked",
    unlock: "Unlock",
    revoke: "Revoke",
    cancel: "Cancel",
    unlockDone: "The token is unlocked.",
    revokeDone: "The token is revoked.",
    unlockOp: "Unlock (token)",
    resetPassword: "Reset password",
    temporaryTitle: "Temporary password",
    temporaryWarning: "never again",
    suspend: "Suspend",
    resume: "Resume",
    bankSuspended: "Suspended",
    bankActive: "Active",
    revokeKey: "Revoke",
    keyRevoked: "Revoked",
    credentialTitle: "Credential",
    audit: "Audit",
    verify: "Verify the chain",
    intact: "Intact",
    hourly: "Last 24 hours (by hour, Japan time)",
    daily: "Last 30 days (by day, Japan time)",
    codesRejected: "Codes rejected",
    locks: "Locks",
    editPolicy: "Edit settings",
    diff: "Changes from the current settings",
    save: "Save",
    fileManaged: "Put this into the file.",
    operators: "Operators",
    loginName: "Operator ID",
    displayName: "Name",
    role: "Role",
    operatorBank: "Bank",
    bankOperator: "Bank operator",
    addOperator: "Add operator",
    outbox: "Outbox",
    customerNotFound: "Customer not found",
    notFoundDetail: "The requested resource does not exist.",
    jst: /\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} JST/,
  },
} as const;

export const BROWSER_LOCALE = { ja: "ja-JP", en: "en-US" } as const;
