// shared/bundle.mjs, on a tool of its own in a scratch folder: a start made while another runs
// from the bundle never takes that bundle away (the running one loads its worker's module from
// it later), and a source saved since the last build makes the next start build again.
import { lstatSync, mkdtempSync, readlinkSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { root, runCommand } from "./lessons.ts";

const tool = mkdtempSync(join(tmpdir(), "bundle-test-"));
const bundleModule = pathToFileURL(join(root, "shared", "bundle.mjs")).href;
writeFileSync(
  join(tool, "start.mjs"),
  `import { startBundled } from ${JSON.stringify(bundleModule)};\n` +
    `await startBundled(import.meta.url, ["main.ts", "late.ts"]);\n`,
);
const source = (word: string) =>
  // The module of a worker, loaded as the crawler loads its chart: only at the end of a run.
  `const late = new URL("./late.ts", import.meta.url);\n` +
  `await new Promise((resolve) => setTimeout(resolve, Number(process.argv[2] ?? 0)));\n` +
  `const { word } = await import(late.href);\n` +
  `console.log(${JSON.stringify(word)}, word);\n`;
writeFileSync(join(tool, "late.ts"), `export const word: string = "late";\n`);

/** Sets a file's time to `secondsAgo` before now, as if saved then. */
const saved = (file: string, secondsAgo: number) => {
  const time = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(file, time, time);
};

test("a rebuild leaves a running tool its bundle; a source saved since is built again", async () => {
  try {
    writeFileSync(join(tool, "main.ts"), source("first"));
    saved(join(tool, "main.ts"), 60);
    saved(join(tool, "late.ts"), 60);
    // The first start builds, then waits 1.5 s before it loads late.ts from its bundle.
    const first = runCommand(process.execPath, [join(tool, "start.mjs"), "1500"]);
    for (let waited = 0; lstatSync(join(tool, "dist"), { throwIfNoEntry: false }) === undefined;) {
      assert.ok((waited += 50) < 60_000, "the first start made no bundle");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const firstBuild = readlinkSync(join(tool, "dist"));
    // Meanwhile a source is saved and a second start builds again.
    writeFileSync(join(tool, "main.ts"), source("second"));
    const second = await runCommand(process.execPath, [join(tool, "start.mjs")]);
    assert.is(second.status, 0, second.stderr);
    assert.is(second.stdout, "second late\n");
    assert.is.not(readlinkSync(join(tool, "dist")), firstBuild, "a build of its own");
    const run = await first;
    assert.is(run.status, 0, run.stderr);
    assert.is(run.stdout, "first late\n", "the first start ran from its own bundle to its end");
  } finally {
    rmSync(tool, { recursive: true, force: true });
  }
});

test.run();
