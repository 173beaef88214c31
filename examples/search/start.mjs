// How `pnpm run search` starts: from a bundle of main.ts and what it imports, remade whenever one
// of those files has changed (shared/bundle.mjs says how, and why). Under tsx, loading the
// TypeScript took most of the time from the command to the answer; README.md has the figures.
// `pnpm exec tsx examples/search/main.ts "words"` runs the same code as the TypeScript itself.
import { startBundled } from "@async-from-scratch/shared/bundle";

await startBundled(import.meta.url, ["main.ts"]);
