// How `pnpm run search-server` starts: from a bundle of main.ts and what it imports, remade
// whenever one of those files has changed (shared/bundle.mjs says how, and why): it listens about
// a second sooner than under tsx (README.md). `pnpm exec tsx examples/search-server/main.ts` runs
// the same code as the TypeScript itself, as the tests mostly do.
import { startBundled } from "@async-from-scratch/shared/bundle";

await startBundled(import.meta.url, ["main.ts"]);
