import { defineConfig } from "@playwright/test";

// The browser tests run against a real `mamori serve` at MAMORI_BASE_URL. `cargo test` starts
// one on SQLite and one on PostgreSQL and runs this suite against each (see
// crates/mamori-server/tests/admin_ui/browser.rs); by hand, start `mamori serve` and run
// `npm run test:e2e`.
//
// The browser is Debian's Chromium (package `chromium`, fonts in `fonts-noto-cjk`), never a
// downloaded one. Playwright gives every launch a new, empty profile directory.

const chromium = process.env.MAMORI_CHROMIUM ?? "/usr/bin/chromium";
const artifacts = process.env.MAMORI_ARTIFACTS_DIR ?? "test-results";

export default defineConfig({
  testDir: "e2e",
  outputDir: `${artifacts}/playwright`,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  timeout: 15_000,
  // A bound for a hung browser, not a speed check: both engines' suites share two cores in CI,
  // and a loaded machine took just over two minutes.
  globalTimeout: 360_000,
  expect: { timeout: 5_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.MAMORI_BASE_URL ?? "http://127.0.0.1:8080",
    browserName: "chromium",
    headless: true,
    viewport: { width: 1024, height: 768 },
    serviceWorkers: "block",
    trace: "off",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
