// Runs every test/*.test.ts with uvu in this one process, then ends with a plain
// "N passed, M failed" line. uvu prints its own summary but does not return its counts, so we read
// them from what it prints.
//
// A test that uvu skips (test.skip or test.only left in a file) counts as failed: a check that did
// not run proved nothing, and nobody meant it not to run. A check that this machine cannot run
// (io_uring refused by a seccomp filter, say) is declared with its reason through skips.ts instead,
// and is printed as skipped, with the reason, on the lines before the last one: it is counted
// neither as passed, because it proved nothing, nor as failed, because nothing is wrong with the
// code; the suite stays green where the lesson correctly explains that it cannot run.
//
//   pnpm test                      typecheck, lint, then every test
//   tsx run.ts http site           only the files whose names contain "http" or "site"
//   UPDATE_SNAPSHOTS=1 pnpm test   rewrite test/snapshots/ and the READMEs' sample output
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { run } from "uvu/run";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2).filter((arg) => arg !== "--");
const suites = readdirSync(here)
  .filter((file) => file.endsWith(".test.ts"))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort()
  .map((file) => ({ name: file, file: join(here, file) }));

let printed = "";
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  printed += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
  return write(chunk, ...rest);
}) as typeof process.stdout.write;

try {
  await run(suites);
} catch (error) {
  // A test file that fails to load stops uvu before any test runs.
  process.stdout.write = write;
  console.error(error);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

process.stdout.write = write;
const summary = stripVTControlCharacters(printed);
const count = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(summary)?.[1]);
const [total, passed, skipped] = [count("Total"), count("Passed"), count("Skipped")];
if (suites.length === 0 || [total, passed, skipped].some(Number.isNaN)) {
  console.log(`uvu printed no summary (test files: ${suites.length})\n0 passed, 1 failed`);
  process.exit(1);
}
const failed = total - passed + skipped;
// Imported only now: skips.ts imports uvu, which must not load before run() has set it up.
const { skippedChecks } = await import("./skips.ts");
if (skippedChecks.length > 0) {
  console.log(
    `${skippedChecks.length} skipped, not run on this machine (neither passed nor failed):`,
  );
  for (const reason of new Set(skippedChecks.map((check) => check.reason))) {
    console.log(`  ${reason}`);
    for (const check of skippedChecks.filter((check) => check.reason === reason)) {
      console.log(`    - ${check.name}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
