// The console end to end, as operators use it, against a real `mamori serve`:
//
// 1. The first platform admin signs in with the one-time password `mamori serve` printed at its
//    first start (MAMORI_FIRST_ADMIN_PASSWORD), sets a password and enrolls an authenticator
//    (the codes are computed here from the secret on the page).
// 2. In Japanese, then again in English: a new bank with an API key; with that key, the test
//    (as the bank's IB system) creates a customer, registers a token and locks it with wrong
//    codes; the admin finds the customer, unlocks and revokes the token with reasons, imports a
//    vendor's encrypted PSKC file (in English the same file is refused, each line named), reads
//    the audit trail and the figures, edits policies and creates a bank operator, who signs in
//    in a browser of their own, does the setup, and cannot see the first bank's customer.
//
// Every page is checked with axe-core and photographed in both languages.

import { fileURLToPath } from "node:url";
import type { APIRequestContext, Browser, BrowserContext, Page } from "@playwright/test";
import { TEXT, checkPage, expect, test, watchErrors, type Lang } from "./fixtures";
import { Authenticator } from "./totp";

const FIRST_LOGIN = process.env.MAMORI_FIRST_ADMIN_LOGIN ?? "admin";
const FIRST_PASSWORD = process.env.MAMORI_FIRST_ADMIN_PASSWORD ?? "";
const ADMIN_PASSWORD = "Mamori-e2e-admin-2026";
const OPERATOR_PASSWORD = "Mamori-e2e-operator-2026";
/** Keeps the names of this run apart from any earlier run against the same server. */
const RUN = Date.now().toString(36).slice(-5);
const VIEWPORT = { width: 1024, height: 768 };
/** A vendor's seed file: three TOTP tokens, AES-128-CBC under this pre-shared key. */
const SEED_FILE = fileURLToPath(
  new URL("../../crates/mamori-import/tests/data/demo-tokens.pskcxml", import.meta.url),
);
const SEED_FILE_PSK = "4d616d6f7269496d706f727454657374";

/** The reasons the operator gives, in the language of the run (they go into the trail). */
const REASONS = {
  ja: {
    newBank: "新規加盟（E2E テスト）",
    unlock: "電話で本人確認のうえロック解除（E2E）",
    revoke: "スマートフォン紛失の申し出により失効（E2E）",
    reset: "本人確認のうえ仮パスワードを発行（E2E）",
    suspend: "契約手続き中のため一時停止（E2E）",
    resume: "契約手続き完了（E2E）",
    revokeKey: "API キーの入れ替え（E2E）",
    policy: "ロックまでの回数を見直し（E2E）",
  },
  en: {
    newBank: "New member bank (E2E test)",
    unlock: "Identity confirmed by phone, unlocking (E2E)",
    revoke: "Customer reported the phone lost (E2E)",
    reset: "Identity confirmed, temporary password issued (E2E)",
    suspend: "Suspended while the contract is renewed (E2E)",
    resume: "Contract renewed (E2E)",
    revokeKey: "API key rotation (E2E)",
    policy: "Lock threshold reviewed (E2E)",
  },
} as const;

test.describe.configure({ mode: "serial" });

let admin: BrowserContext;
let page: Page;
const errors: string[] = [];
let adminApp: Authenticator;

test.beforeAll(async ({ browser }, testInfo) => {
  const { baseURL } = testInfo.project.use;
  admin = await browser.newContext({ locale: "ja-JP", ...(baseURL ? { baseURL } : {}), viewport: VIEWPORT });
  page = await admin.newPage();
  watchErrors(page, errors);
});

test.afterEach(() => {
  const seen = errors.splice(0);
  expect(seen, "the browser reported errors (a CSP violation shows up here)").toEqual([]);
});

test.afterAll(async () => {
  await admin.close();
});

// --- helpers ---------------------------------------------------------------------------------

async function heading(p: Page, name: string | RegExp): Promise<void> {
  await expect(p.getByRole("heading", { level: 2 })).toHaveText(name);
}

async function signIn(p: Page, lang: Lang, login: string, password: string, code?: string) {
  const text = TEXT[lang];
  await p.getByLabel(text.operatorId).fill(login);
  await p.getByLabel(text.password, { exact: true }).fill(password);
  if (code) await p.getByLabel(text.code).fill(code);
  await p.getByRole("button", { name: text.signIn }).click();
}

/**
 * The first sign-in's setup: new password, then the authenticator (QR code and secret). The
 * pages are checked and photographed when `check` (once per language is enough).
 */
async function completeSetup(
  p: Page,
  lang: Lang,
  oneTimePassword: string,
  newPassword: string,
  check: boolean,
): Promise<Authenticator> {
  const text = TEXT[lang];
  await expect(p).toHaveURL(/\/admin\/setup$/);
  await heading(p, text.setup);
  if (check) await checkPage(p, "setup-password", lang);
  await p.getByLabel(text.currentPassword).fill(oneTimePassword);
  // A password the operator policy refuses (no digit) shows each broken rule.
  await p.getByLabel(text.newPassword, { exact: true }).fill("onlyletters-no-digits");
  await p.getByLabel(text.newPasswordAgain).fill("onlyletters-no-digits");
  await p.getByRole("button", { name: text.setPassword }).click();
  await expect(p.getByRole("alert")).toHaveAttribute("data-code", "password_rejected");
  await expect(p.locator(".problem-violations li").first()).toBeVisible();
  if (check) await checkPage(p, "setup-password-rejected", lang);
  await p.getByLabel(text.currentPassword).fill(oneTimePassword);
  await p.getByLabel(text.newPassword, { exact: true }).fill(newPassword);
  await p.getByLabel(text.newPasswordAgain).fill(newPassword);
  await p.getByRole("button", { name: text.setPassword }).click();

  await expect(p.getByRole("heading", { level: 3, name: text.totpTitle })).toBeVisible();
  const qr = p.locator(".qr svg");
  await expect(qr).toHaveAttribute("role", "img");
  const secret = (await p.getByTestId("totp-secret").textContent())?.trim() ?? "";
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
  if (check) await checkPage(p, "setup-totp", lang);
  const app = new Authenticator(secret);
  await p.getByLabel(text.code).fill((await app.nextCode()).code);
  await p.getByRole("button", { name: text.finishEnrollment }).click();
  await expect(p).toHaveURL(/\/admin\/banks$/);
  await heading(p, text.banks);
  return app;
}

async function openNav(p: Page, label: string): Promise<void> {
  await p.getByRole("navigation").getByRole("link", { name: label, exact: true }).click();
}

/** Opens the reason dialog with `button`, gives the reason and confirms with `confirm`. */
async function withReason(p: Page, lang: Lang, button: string, reason: string, shot?: string) {
  await p.getByRole("button", { name: button, exact: true }).click();
  const dialog = p.getByRole("dialog", { name: button });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel(TEXT[lang].reason)).toBeFocused();
  await dialog.getByLabel(TEXT[lang].reason).fill(reason);
  if (shot) await checkPage(p, shot, lang);
  await dialog.getByRole("button", { name: button, exact: true }).click();
  await expect(dialog).toBeHidden();
}

interface LockedCustomer {
  userId: string;
  contractNumber: string;
  credentialId: string;
}

/**
 * The bank's IB system, with the API key from the console: a contract user, a token
 * registered with one code (the template's `registration.mode = "one_code"`), then ten wrong
 * codes at login, which lock the token (`otp.lock_threshold = 10`).
 */
async function lockACustomer(
  request: APIRequestContext,
  key: string,
  bankId: string,
  contractNumber: string,
): Promise<LockedCustomer> {
  const headers = { Authorization: `Bearer ${key}` };
  const bank = `/v1/banks/${bankId}`;
  const created = await request.post(`${bank}/users`, {
    headers,
    data: { contract_number: contractNumber, display_name: "守 花子" },
  });
  expect(created.status(), await created.text()).toBe(201);
  const userId = ((await created.json()) as { id: string }).id;

  const provisioned = await request.post("/v1/token/credentials", { data: {} });
  expect(provisioned.status(), await provisioned.text()).toBe(201);
  const token = (await provisioned.json()) as { credential_id: string; secret: string };
  const phone = new Authenticator(token.secret);

  const registered = await request.post(`${bank}/users/${userId}/credential`, {
    headers,
    data: { credential_id: token.credential_id, otp: (await phone.nextCode()).code },
  });
  expect(registered.status(), await registered.text()).toBe(201);

  for (let i = 0; i < 10; i++) {
    const wrong = await request.post(`${bank}/users/${userId}/otp/verify`, {
      headers,
      data: { otp: phone.wrongCode() },
    });
    expect([422, 423], await wrong.text()).toContain(wrong.status());
  }
  const status = await request.get(`${bank}/users/${userId}/otp-status`, { headers });
  expect(((await status.json()) as { status: string }).status).toBe("locked");
  return { userId, contractNumber, credentialId: token.credential_id };
}

interface FlowResult {
  bankId: string;
  customer: LockedCustomer;
  operatorLogin: string;
  operatorPassword: string;
}

/** Everything a platform admin does in one language. */
async function mainFlow(lang: Lang, request: APIRequestContext): Promise<FlowResult> {
  const text = TEXT[lang];
  const bankId = `e2e-${lang}-${RUN}`;

  // Banks: the shipped ones, file-managed.
  await openNav(page, text.nav.banks);
  await heading(page, text.banks);
  await expect(page.getByTestId("banks-table").getByRole("link", { name: "jonan-shinkin" })).toBeVisible();
  await checkPage(page, "banks", lang);

  // A new console-managed bank from the template, reviewed, then created with a reason.
  await page.getByRole("link", { name: text.addBank }).click();
  await expect(page).toHaveURL(/\/admin\/banks\/new$/);
  await page.getByLabel(text.bankId).fill(bankId);
  const policy = page.getByLabel(text.policyText);
  const template = await policy.inputValue();
  expect(template).toContain('mode = "one_code"');
  await policy.fill(
    template
      .replace(/^name_ja = .*$/m, `name_ja = "E2Eテスト信用金庫 ${lang}"`)
      .replace(/^name_en = .*$/m, `name_en = "E2E Test Shinkin Bank ${lang}"`),
  );
  await page.getByRole("button", { name: text.review }).click();
  await expect(page.getByTestId("policy-review")).toContainText(text.valid);
  await expect(page.getByTestId("nist-flags")).toBeVisible();
  await page.getByLabel(text.reason).fill(REASONS[lang].newBank);
  await checkPage(page, "bank-new", lang);
  await page.getByRole("button", { name: text.createBank, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/banks/${bankId}$`));
  await expect(page.getByTestId("bank-summary")).toContainText(text.managedByAdmin);

  // An API key, shown once, read from the page.
  await page.getByLabel(text.apiKeyLabel).fill(`IB e2e ${lang}`);
  await page.getByRole("button", { name: text.createApiKey }).click();
  const key = (await page.getByTestId("new-api-key").textContent())?.trim() ?? "";
  expect(key).toMatch(/^mmr_/);
  await expect(page.getByRole("region", { name: text.newApiKey })).toContainText(text.apiKeyWarning);
  await expect(page.getByTestId("api-keys-table")).toContainText(`IB e2e ${lang}`);

  // The bank's IB system locks a customer's token.
  const customer = await lockACustomer(request, key, bankId, lang === "ja" ? "7000001" : "7000002");

  // Customers: search by contract number at the new bank.
  await openNav(page, text.nav.customers);
  await heading(page, text.customers);
  await page.getByLabel(text.bank, { exact: true }).selectOption(bankId);
  await page.getByRole("searchbox", { name: text.contractNumber }).fill(customer.contractNumber);
  await page.getByRole("button", { name: text.search, exact: true }).click();
  const results = page.getByTestId("customers-table");
  await expect(results).toContainText(text.locked);
  await checkPage(page, "customers", lang);
  await results.getByRole("link", { name: customer.contractNumber }).click();

  // The customer: locked; unlock with a reason (the dialog: focus inside, Esc closes).
  await expect(page).toHaveURL(new RegExp(`/admin/banks/${bankId}/customers/${customer.userId}$`));
  const otp = page.getByTestId("customer-otp");
  await expect(otp).toContainText(text.locked);
  await expect(otp).toContainText(customer.credentialId);
  await expect(page.getByTestId("customer-profile")).toContainText(text.jst);
  const unlockButton = page.getByRole("button", { name: text.unlock, exact: true });
  await unlockButton.click();
  const dialog = page.getByRole("dialog", { name: text.unlock });
  await expect(dialog).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(unlockButton).toBeFocused();
  const unlockReason = REASONS[lang].unlock;
  await withReason(page, lang, text.unlock, unlockReason, "reason-dialog");
  await expect(page.getByRole("status").filter({ hasText: text.unlockDone })).toBeVisible();
  await expect(otp).toContainText(text.inUse);
  const recent = page.getByTestId("customer-audit");
  await expect(recent.locator('tr[data-operation="unlockCredential"]')).toContainText(unlockReason);
  await expect(recent).toContainText(text.unlockOp);

  // Revoke the token with a reason.
  const revokeReason = REASONS[lang].revoke;
  await withReason(page, lang, text.revoke, revokeReason);
  await expect(page.getByRole("status").filter({ hasText: text.revokeDone })).toBeVisible();
  await expect(otp).toContainText(text.revoked);
  await expect(recent.locator('tr[data-operation="revokeCredential"]')).toContainText(revokeReason);

  // A temporary login password, shown once with a warning.
  await withReason(page, lang, text.resetPassword, REASONS[lang].reset);
  const temporary = page.getByRole("region", { name: text.temporaryTitle });
  await expect(temporary).toContainText(text.temporaryWarning);
  expect((await page.getByTestId("temporary-password").textContent())?.trim()).toMatch(/^\S{6,}$/);
  await expect(recent.locator('tr[data-operation="resetPassword"]')).toHaveCount(1);
  await checkPage(page, "customer", lang);

  // The credential's page: its registration at the new bank, revoked.
  await otp.getByRole("link", { name: customer.credentialId }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/credentials/${customer.credentialId}$`));
  await expect(page.getByTestId("registrations-table")).toContainText(bankId);
  await expect(page.getByTestId("registrations-table")).toContainText(text.revoked);
  await checkPage(page, "credential", lang);

  // Hardware tokens from the vendor's PSKC file. In Japanese they are checked and imported; in
  // English the same file is refused whole, each line named.
  await openNav(page, text.nav.tokenImport);
  await heading(page, text.tokenImport);
  await page.getByLabel(text.seedFile).setInputFiles(SEED_FILE);
  await page.getByLabel(text.psk).fill(SEED_FILE_PSK);
  await page.getByRole("button", { name: text.checkFile }).click();
  if (lang === "ja") {
    await expect(page.getByRole("region", { name: new RegExp(text.importReady) })).toBeVisible();
    await expect(page.getByTestId("import-table").locator("tbody tr")).toHaveCount(3);
    await page.getByRole("button", { name: text.importThree }).click();
    await expect(page.getByRole("region", { name: text.imported })).toBeVisible();
    await expect(page.getByTestId("import-table")).toContainText("FT30000003");
  } else {
    await expect(page.getByTestId("problem-lines")).toContainText(text.serialTaken);
    await expect(page.getByTestId("problem-lines").locator("li")).toHaveCount(3);
  }
  await checkPage(page, "token-import", lang);

  // The bank's audit trail: filters, the chain check, exports with the same filters.
  await openNav(page, text.nav.audit);
  await heading(page, text.audit);
  await page.getByLabel(/^対象$|^Trail$/).selectOption(bankId);
  await page.getByRole("button", { name: /絞り込む|Apply filters/ }).click();
  const trail = page.getByTestId("audit-table");
  await expect(trail.locator('tr[data-operation="unlockCredential"]')).toContainText(unlockReason);
  await expect(trail.locator('tr[data-operation="verifyOtp"][data-outcome="failure"]')).toHaveCount(10);
  await page.getByRole("button", { name: text.verify }).click();
  await expect(page.getByTestId("chain-result")).toContainText(text.intact);
  await page.getByLabel(/^操作$|^Operation$/).selectOption("verifyOtp");
  await page.getByLabel(/^結果$|^Outcome$/).selectOption("failure");
  await page.getByRole("button", { name: /絞り込む|Apply filters/ }).click();
  await expect(trail.locator("tbody tr")).toHaveCount(10);
  const csv = page.getByTestId("export-csv");
  const href = (await csv.getAttribute("href")) ?? "";
  expect(href).toContain(`trail=${bankId}`);
  expect(href).toContain("operation=verifyOtp");
  expect(href).toContain("outcome=failure");
  const exported = await admin.request.get(href);
  expect(exported.status()).toBe(200);
  expect((await exported.text()).split("\n").filter((l) => l.includes("verifyOtp"))).toHaveLength(10);
  expect(await page.getByTestId("export-json").getAttribute("href")).toContain("export.json?");
  await checkPage(page, "audit", lang);

  // The figures: the charts show the figures API's counts of failures and locks.
  await page.goto(`/admin/banks/${bankId}`);
  const figures = (await (await admin.request.get(`/v1/admin/banks/${bankId}/figures`)).json()) as {
    hourly: { codes_rejected: number; locks: number }[];
    daily: { codes_rejected: number; locks: number }[];
    locked_tokens: number;
  };
  const sum = (buckets: { codes_rejected: number; locks: number }[], k: "codes_rejected" | "locks") =>
    buckets.reduce((total, b) => total + b[k], 0);
  expect(sum(figures.hourly, "codes_rejected")).toBeGreaterThanOrEqual(10);
  expect(sum(figures.hourly, "locks")).toBeGreaterThanOrEqual(1);
  for (const [id, buckets, name] of [
    ["chart-hourly", figures.hourly, text.hourly],
    ["chart-daily", figures.daily, text.daily],
  ] as const) {
    const chart = page.getByTestId(id);
    await expect(chart.getByRole("img", { name })).toBeVisible();
    for (const series of ["codes_rejected", "locks"] as const) {
      const total = sum(buckets, series);
      await expect(chart.locator(`.chart-total[data-series="${series}"]`)).toHaveAttribute(
        "data-total",
        String(total),
      );
      const bars = await chart
        .locator(`rect[data-series="${series}"]`)
        .evaluateAll((rects) => rects.reduce((t, r) => t + Number(r.getAttribute("data-value")), 0));
      expect(bars, `${id}: the ${series} bars`).toBe(total);
    }
  }
  await expect(page.getByTestId("now-locked-tokens")).toContainText(String(figures.locked_tokens));
  // The data table alternative of the hourly chart.
  const hourly = page.getByTestId("chart-hourly");
  await hourly.getByRole("button", { name: /表で表示|Show as a table/ }).click();
  await expect(hourly.getByRole("table")).toContainText(text.codesRejected);
  await expect(hourly.getByRole("table").locator("tbody tr")).toHaveCount(24);
  await checkPage(page, "bank", lang);

  // Suspended, the bank's API key is refused; resumed, it works again.
  const summary = page.getByTestId("bank-summary");
  const asBank = { headers: { Authorization: `Bearer ${key}` } };
  const statusPath = `/v1/banks/${bankId}/users/${customer.userId}/otp-status`;
  await withReason(page, lang, text.suspend, REASONS[lang].suspend);
  await expect(summary).toContainText(text.bankSuspended);
  const refused = await request.get(statusPath, asBank);
  expect(refused.status()).toBe(403);
  expect(((await refused.json()) as { code: string }).code).toBe("bank_suspended");
  await withReason(page, lang, text.resume, REASONS[lang].resume);
  await expect(summary).toContainText(text.bankActive);
  expect((await request.get(statusPath, asBank)).status()).toBe(200);

  // The key revoked with a reason: refused from then on.
  await page.getByRole("button", { name: `${text.revokeKey}: IB e2e ${lang}` }).click();
  const revokeDialog = page.getByRole("dialog");
  await revokeDialog.getByLabel(text.reason).fill(REASONS[lang].revokeKey);
  await revokeDialog.getByRole("button", { name: text.revokeKey, exact: true }).click();
  await expect(revokeDialog).toBeHidden();
  await expect(page.getByTestId("api-keys-table")).toContainText(text.keyRevoked);
  expect((await request.get(statusPath, asBank)).status()).toBe(401);

  // The policy: edit, review (diff, NIST flags), save as version 2 with a reason.
  await page.getByRole("link", { name: text.editPolicy }).click();
  const editor = page.getByLabel(text.policyText);
  await expect(editor).toHaveValue(/lock_threshold = 10/);
  await editor.fill((await editor.inputValue()).replace("lock_threshold = 10", "lock_threshold = 8"));
  await page.getByRole("button", { name: text.review }).click();
  const diff = page.getByTestId("policy-diff");
  await expect(diff.locator(".diff-add")).toContainText("lock_threshold = 8");
  await expect(diff.locator(".diff-del")).toContainText("lock_threshold = 10");
  await page.getByLabel(text.reason).fill(REASONS[lang].policy);
  await checkPage(page, "bank-policy", lang);
  await page.getByRole("button", { name: text.save, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/banks/${bankId}$`));
  await expect(page.getByTestId("versions-table").locator("tbody tr")).toHaveCount(2);
  await expect(page.getByTestId("policy-toml")).toContainText("lock_threshold = 8");

  // A file-managed bank: the reviewed TOML goes into its file.
  await page.goto("/admin/banks/jonan-shinkin/policy");
  const fileEditor = page.getByLabel(text.policyText);
  await expect(fileEditor).toHaveValue(/lock_threshold = 10/);
  await fileEditor.fill((await fileEditor.inputValue()).replace("lock_threshold = 10", "lock_threshold = 9"));
  await page.getByRole("button", { name: text.review }).click();
  const instructions = page.getByTestId("file-instructions");
  await expect(instructions).toContainText(text.fileManaged);
  await expect(instructions).toContainText("tenant-configs/jonan-shinkin.toml");
  await expect(page.getByTestId("normalized-toml")).toContainText("lock_threshold = 9");
  await checkPage(page, "bank-policy-file", lang);

  // Operators: a bank operator for a shipped bank, with a one-time password shown once.
  await openNav(page, text.nav.operators);
  await heading(page, text.operators);
  const operatorLogin = `jonan-${lang}-${RUN}`;
  await page.getByLabel(text.loginName).fill(operatorLogin);
  await page.getByLabel(text.displayName, { exact: true }).fill(lang === "ja" ? "城南 次郎" : "Jiro Jonan");
  await page.getByLabel(text.role).selectOption("bank_operator");
  await page.getByLabel(text.operatorBank).selectOption("jonan-shinkin");
  await page.getByRole("button", { name: text.addOperator }).click();
  const operatorPassword = (await page.getByTestId("one-time-password").textContent())?.trim() ?? "";
  expect(operatorPassword.length).toBeGreaterThanOrEqual(12);
  await expect(page.getByTestId("operators-table")).toContainText(operatorLogin);
  await checkPage(page, "operators", lang);

  // Outbox.
  await openNav(page, text.nav.outbox);
  await heading(page, text.outbox);
  await checkPage(page, "outbox", lang);

  return { bankId, customer, operatorLogin, operatorPassword };
}

/** The bank operator in a browser of their own: setup, one bank, no other bank's customer. */
async function bankOperatorFlow(browser: Browser, baseURL: string | undefined, lang: Lang, flow: FlowResult) {
  const text = TEXT[lang];
  const context = await browser.newContext({
    locale: lang === "ja" ? "ja-JP" : "en-US",
    ...(baseURL ? { baseURL } : {}),
    viewport: VIEWPORT,
  });
  const p = await context.newPage();
  const seen: string[] = [];
  watchErrors(p, seen);
  try {
    await p.goto("/admin/");
    await signIn(p, lang, flow.operatorLogin, flow.operatorPassword);
    await completeSetup(p, lang, flow.operatorPassword, OPERATOR_PASSWORD, true);
    const banks = p.getByTestId("banks-table").locator("tbody tr");
    await expect(banks).toHaveCount(1);
    await expect(banks).toContainText("jonan-shinkin");
    await expect(p.getByTestId("whoami")).toContainText(text.bankOperator);
    await expect(p.getByRole("navigation").getByRole("link", { name: text.nav.operators })).toHaveCount(0);

    // The first bank's customer, by URL: "not found", in this language, and nothing of theirs.
    await p.goto(`/admin/banks/${flow.bankId}/customers/${flow.customer.userId}`);
    await heading(p, text.customerNotFound);
    const alert = p.getByRole("alert");
    await expect(alert).toHaveAttribute("data-code", "not_found");
    await expect(alert).toContainText(text.notFoundDetail);
    await expect(p.locator("main")).not.toContainText(flow.customer.contractNumber);
    await expect(p.locator("main")).not.toContainText(flow.customer.credentialId);
    await checkPage(p, "customer-not-found", lang);

    await p.getByRole("button", { name: text.signOut }).click();
    await expect(p).toHaveURL(/\/admin\/sign-in$/);
    await heading(p, text.signIn);
  } finally {
    await context.close();
  }
  expect(seen, "the bank operator's browser reported errors").toEqual([]);
}

// --- the tests -------------------------------------------------------------------------------

test("the first admin signs in with the one-time password and sets up password and authenticator", async () => {
  test.setTimeout(30_000);
  expect(
    FIRST_PASSWORD,
    "set MAMORI_FIRST_ADMIN_PASSWORD to the one-time password `mamori serve` printed at its first start",
  ).not.toBe("");
  await page.goto("/admin/");
  await expect(page).toHaveURL(/\/admin\/sign-in$/);
  await signIn(page, "ja", FIRST_LOGIN, FIRST_PASSWORD);
  // The bank operators' setups, in each language, are the ones checked and photographed.
  adminApp = await completeSetup(page, "ja", FIRST_PASSWORD, ADMIN_PASSWORD, false);
  await expect(page.getByTestId("whoami")).toContainText("プラットフォーム管理者");

  // The session survives a reload (getAdminSession).
  await page.reload();
  await heading(page, TEXT.ja.banks);
  await expect(page.getByTestId("whoami")).toBeVisible();
});

test("in Japanese: bank, key, a locked customer unlocked and revoked, trail, figures, policies, operators", async ({
  browser,
  request,
}, testInfo) => {
  test.setTimeout(90_000);
  const flow = await mainFlow("ja", request);
  await bankOperatorFlow(browser, testInfo.project.use.baseURL, "ja", flow);

  // A session that ended on the server (here: its cookie gone) sends the admin to sign-in.
  await admin.clearCookies();
  await openNav(page, TEXT.ja.nav.customers);
  await expect(page).toHaveURL(/\/admin\/sign-in\?next=%2Fcustomers$/);
  await expect(page.getByRole("status").filter({ hasText: TEXT.ja.sessionEnded })).toBeVisible();
});

test("in English: the admin signs in again with password and code, then does it all again", async ({
  browser,
  request,
}, testInfo) => {
  test.setTimeout(100_000);
  const text = TEXT.en;
  await page.goto("/admin/banks");
  await expect(page).toHaveURL(/\/admin\/sign-in\?next=%2Fbanks$/);
  // Switch the language on the page.
  await page.getByRole("button", { name: "English" }).click();
  await heading(page, text.signIn);
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  // A code works once: the authenticator waits for the next time step if this one was used.
  const { code } = await adminApp.nextCode();
  await signIn(page, "en", FIRST_LOGIN, ADMIN_PASSWORD, code);
  await expect(page).toHaveURL(/\/admin\/banks$/);
  await heading(page, text.banks);
  await expect(page.getByTestId("whoami")).toContainText("Platform admin");

  const flow = await mainFlow("en", request);
  await bankOperatorFlow(browser, testInfo.project.use.baseURL, "en", flow);

  await page.getByRole("button", { name: text.signOut }).click();
  await expect(page).toHaveURL(/\/admin\/sign-in$/);
});
