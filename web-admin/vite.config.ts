import { defineConfig } from "vite";

// The bundle is committed (web-admin/dist) and embedded in the `mamori` binary, which serves it
// under /admin/. A test rebuilds it and compares bytes, so the build must be deterministic: no
// source maps, no timestamps, content-hashed file names.
export default defineConfig({
  base: "/admin/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    // Only browsers with native module preload are supported; no inline polyfill.
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev` against a `mamori serve` on the default port.
    proxy: {
      "/readyz": "http://127.0.0.1:8080",
      "/healthz": "http://127.0.0.1:8080",
      "/v1": "http://127.0.0.1:8080",
    },
  },
});
