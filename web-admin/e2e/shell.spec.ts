// The console before anyone signs in: the sign-in page in both languages, the server's
// localized problems, the 404 page, the language switch, the readiness footer and the keyboard.

import { BROWSER_LOCALE, TEXT, checkPage, expect, test } from "./fixtures";

for (const lang of ["ja", "en"] as const) {
  const text = TEXT[lang];

  test.describe(`in ${lang === "ja" ? "Japanese" : "English"}`, () => {
    test.use({ locale: BROWSER_LOCALE[lang] });

    test("the sign-in page follows the browser's language", async ({ page }) => {
      await page.goto("/admin");
      await expect(page).toHaveURL(/\/admin\/sign-in$/);
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(text.title);
      await expect(page.getByRole("heading", { level: 2 })).toHaveText(text.signIn);
      await expect(page.locator("html")).toHaveAttribute("lang", lang);
      await expect(page).toHaveTitle(`${text.signIn} | ${text.title}`);
      await expect(page.getByLabel(text.operatorId)).toBeVisible();
      await expect(page.getByLabel(text.password, { exact: true })).toHaveAttribute("type", "password");
      await expect(page.getByLabel(text.code)).toHaveAttribute("autocomplete", "one-time-code");
      await expect(page.getByRole("button", { name: text.signIn })).toBeVisible();
      await expect(page.getByRole("button", { name: "日本語" })).toHaveAttribute(
        "aria-pressed",
        String(lang === "ja"),
      );
      await expect(page.getByTestId("server-status")).toHaveText(text.ready);
      await checkPage(page, "sign-in", lang);
    });

    test("a refused sign-in shows the server's problem in this language", async ({ page }) => {
      await page.goto("/admin/sign-in");
      await page.getByLabel(text.operatorId).fill("nobody");
      await page.getByLabel(text.password, { exact: true }).fill("correct horse battery");
      await page.getByLabel(text.code).fill("123456");
      await page.getByRole("button", { name: text.signIn }).click();
      const alert = page.getByRole("alert");
      await expect(alert).toContainText(text.loginFailed);
      await expect(alert).toHaveAttribute("data-code", "admin_login_failed");
      // Nothing pretends to have worked: still the sign-in page, the password field emptied.
      await expect(page).toHaveURL(/\/admin\/sign-in$/);
      await expect(page.getByLabel(text.password, { exact: true })).toHaveValue("");
      await checkPage(page, "sign-in-failed", lang);
    });

    test("an unknown client route shows the 404 page", async ({ page }) => {
      await page.goto("/admin/no/such/page");
      await expect(page.getByRole("heading", { level: 2 })).toHaveText(text.notFound);
      await expect(page).toHaveTitle(`${text.notFound} | ${text.title}`);
      await checkPage(page, "not-found", lang);
      // The way back is a client-side navigation to the sign-in page.
      await page.getByRole("link", { name: text.back }).click();
      await expect(page).toHaveURL(/\/admin\/sign-in$/);
      await expect(page.getByRole("heading", { level: 2 })).toHaveText(text.signIn);
      await expect(page.getByRole("heading", { level: 2 })).toBeFocused();
      await page.goBack();
      await expect(page.getByRole("heading", { level: 2 })).toHaveText(text.notFound);
    });
  });
}

test.describe("signed out", () => {
  test.use({ locale: "en-US" });

  test("a console page asks to sign in first and remembers where it was", async ({ page }) => {
    await page.goto("/admin/banks/jonan-shinkin");
    await expect(page).toHaveURL(/\/admin\/sign-in\?next=%2Fbanks%2Fjonan-shinkin$/);
    await expect(page.getByRole("heading", { level: 2 })).toHaveText(TEXT.en.signIn);
  });
});

test.describe("language switch", () => {
  test.use({ locale: "en-US" });

  test("the chosen language is kept across reloads", async ({ page }) => {
    await page.goto("/admin/");
    await expect(page.locator("html")).toHaveAttribute("lang", "en");
    await page.getByRole("button", { name: "日本語" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(TEXT.ja.title);
    await expect(page.locator("html")).toHaveAttribute("lang", "ja");
    await expect(page.getByTestId("server-status")).toHaveText(TEXT.ja.ready);

    await page.reload();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(TEXT.ja.title);
    await expect(page.getByLabel(TEXT.ja.operatorId)).toBeVisible();
    await expect(page.locator("html")).toHaveAttribute("lang", "ja");

    await page.getByRole("button", { name: "English" }).click();
    await page.reload();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(TEXT.en.title);
    await expect(page.locator("html")).toHaveAttribute("lang", "en");
  });
});

test.describe("server status", () => {
  test.use({ locale: "en-US" });

  test("the footer shows what GET /readyz answers", async ({ page, request }) => {
    const readyz = await request.get("/readyz");
    expect(readyz.status()).toBe(200);
    const body = (await readyz.json()) as { status: string; database: string };
    expect(body.status).toBe("ready");

    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/readyz");
    await page.goto("/admin/sign-in");
    expect((await answered).status()).toBe(200);
    const status = page.getByTestId("server-status");
    await expect(status).toHaveText(`Ready (database: ${body.database})`);
    await expect(page.locator(".server-status")).toHaveAttribute("data-state", "ready");
  });
});

test.describe("keyboard", () => {
  test.use({ locale: "en-US" });

  test("Tab reaches every control in order, with a visible focus", async ({ page }) => {
    await page.goto("/admin/sign-in");
    await expect(page.getByTestId("server-status")).toHaveText(TEXT.en.ready);
    const expected = [
      "link:Skip to main content",
      "button:日本語",
      "button:English",
      "input:operator-id",
      "input:password",
      "input:security-code",
      "button:Sign in",
    ];
    const reached: string[] = [];
    for (let i = 0; i < expected.length; i++) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el) return { name: "none", outline: "none" };
        const kind = el.tagName === "A" ? "link" : el.tagName.toLowerCase();
        const name = el.tagName === "INPUT" ? el.id : (el.textContent ?? "").trim();
        return { name: `${kind}:${name}`, outline: getComputedStyle(el).outlineStyle };
      });
      reached.push(focused.name);
      expect(focused.outline, `${focused.name} shows where the focus is`).not.toBe("none");
    }
    expect(reached).toEqual(expected);

    // The whole form works from the keyboard.
    await page.getByLabel(TEXT.en.operatorId).focus();
    await page.keyboard.type("nobody");
    await page.keyboard.press("Tab");
    await page.keyboard.type("correct horse battery");
    await page.keyboard.press("Tab");
    await page.keyboard.type("123456");
    await page.keyboard.press("Enter");
    await expect(page.getByRole("alert")).toContainText(TEXT.en.loginFailed);

    // The language switch works from the keyboard too. `press` focuses and presses in one
    // step: the failed sign-in's re-render may still move the focus after a separate focus().
    await page.getByRole("button", { name: "日本語" }).press("Enter");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(TEXT.ja.title);
  });
});
