// How `pnpm run crawler` starts: from a bundle of main.ts and of the modules its worker threads
// run (tasks.ts parses and indexes pages, dns.ts resolves host names), remade whenever a file
// they were made from has changed (shared/bundle.mjs says how). Why: under tsx, every start
// compiles (or finds in its cache) and loads some sixty modules one by one through tsx's loader
// thread, and so do the worker threads; the first request went out 0.7 s (idle) to 3.5 s
// (loaded) after the command on this 2-core machine, against 0.2 to 0.6 s from the bundle
// (examples/crawler/README.md, bench (e), has the figures). Crawlers are started often, and a person waits for each.
//
// The tests start the crawler this way too, as a person does (test/lessons.ts); a few of them run
// main.ts with tsx instead, so that the TypeScript as a student reads and runs it is tested too.
import { startBundled } from "@async-from-scratch/shared/bundle";

await startBundled(import.meta.url, ["main.ts", "tasks.ts", "dns.ts"], { charts: true });
