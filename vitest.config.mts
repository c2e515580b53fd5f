import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Pulumi's mock runtime is process-global state, so each file gets its own process.
    isolate: true,
  },
});
