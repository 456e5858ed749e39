import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the client with hot reload and forwards the APIs to a running
// gateway (`elysium up` starts one; ELYSIUM_WEB_GATEWAY overrides where it is).
const gateway = process.env.ELYSIUM_WEB_GATEWAY || "http://127.0.0.1:7400";

export default defineConfig({
  plugins: [react()],
  define: { __ELYSIUM_VERSION__: JSON.stringify(process.env.npm_package_version || "0.0.0") },
  server: {
    proxy: {
      "/api": { target: gateway, ws: true, changeOrigin: true },
      "/graphql": { target: gateway, changeOrigin: true },
    },
  },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 800 },
  // Files named *.live.test.ts run against real services and only when asked (ELYSIUM_WEB_LIVE=1):
  // tests/sdk/test_live.py and the browser tests start the services and run them.
  test: process.env.ELYSIUM_WEB_LIVE
    ? { environment: "jsdom", include: ["test/**/*.live.test.ts", "sdk/test/**/*.live.test.ts"] }
    : {
        environment: "jsdom",
        include: ["test/**/*.test.{ts,tsx}", "sdk/test/**/*.test.ts"],
        exclude: ["**/*.live.test.ts", "**/node_modules/**"],
      },
});
