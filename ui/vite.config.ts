// Vite build of the UI into ui/dist (tauri.conf.json's frontendDist), and Vitest's configuration.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  // Under Vitest, Svelte's browser build: the components are mounted in jsdom for the desk's
  // accessibility test (src/components/desk.a11y.test.ts), not rendered on a server.
  resolve: mode === "test" ? { conditions: ["browser"] } : undefined,
  // Relative asset URLs: the app serves dist/ through Tauri's custom protocol, not from a web root.
  base: "./",
  // No network is involved in the shell; a fixed port only matters for `vite dev` in a browser.
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.4x is the oldest engine that runs the app; it supports ES2022.
    target: "es2022",
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
}));
