// How the tools that a person starts again and again (the crawler, search, search-server) start:
// from a bundle that esbuild makes of their TypeScript, remade whenever a file it was made from has
// changed since. Why: under tsx, every start compiles (or finds in its cache) and loads the tool's
// modules one by one through tsx's loader thread, and so do its worker threads: the crawler sent
// its first request 0.7 s (idle) to 3.5 s (loaded) after the command under tsx, 0.2 to 0.6 s
// from the bundle; search answered in 1.9 s under tsx, 0.55 s from the bundle (medians on a
// loaded machine; each tool's README has its figures). A person waits for each.
//
// A tool's start.mjs names its entries (its main.ts first, then the modules its worker threads
// run) and calls startBundled(). Each entry is bundled with what it imports into the tool's
// dist/<name>.mjs, except shared/chart.ts (Vega, which drawChart loads only to draw a chart): for
// a tool that draws charts, it goes into dist/chart.mjs of its own (inside main's bundle it would
// be parsed at every start, 0.15 s of the crawler's); for one that draws none, nowhere, since
// making Vega's bundle took 2 to 3 s of search's first start after a change. Two things are
// adjusted on the way. A worker module named as new URL("./x.ts", import.meta.url), where x.ts is
// an entry, becomes "./x.mjs", its bundle. Every other import.meta.url becomes the URL of the
// source file, so that paths found from it (the native module's build/, the fixture site's
// main.ts, out/index, the search page's static files) are where they always were.
//
// This file is JavaScript, not TypeScript, because it is what runs before anything can compile
// TypeScript. The tests start the crawler and search this way too, as a person does
// (test/lessons.ts), and search-server in one test; the rest run main.ts with tsx, so that the
// TypeScript as a student reads and runs it is tested.
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const CHART = fileURLToPath(new URL("./chart.ts", import.meta.url));

/**
 * Runs a tool from its bundle, made first if it is missing or stale: `startBundled(import.meta.url,
 * ["main.ts", "tasks.ts"])` in the tool's start.mjs bundles main.ts and tasks.ts (paths relative
 * to the start.mjs) into dist/main.mjs and dist/tasks.mjs beside it, and imports the first.
 * `{ charts: true }` for a tool that draws charts (drawChart, shared/lesson.ts).
 */
export async function startBundled(startUrl, files, { charts = false } = {}) {
  const here = dirname(fileURLToPath(startUrl));
  const dist = join(here, "dist");
  const entries = Object.fromEntries(
    files.map((file) => [basename(file, ".ts"), join(here, file)]),
  );
  if (charts) entries.chart = CHART;
  const bundles = Object.keys(entries).map((name) => join(dist, `${name}.mjs`));
  // Made again also when this file or the start.mjs has changed: they say how to make it.
  const makers = [fileURLToPath(import.meta.url), fileURLToPath(startUrl)];
  if (!bundles.every(existsSync) || stale(here, dist, makers)) await bundle(here, dist, entries);
  // From the build that `dist` names now, by its own path: the modules the tool loads later (its
  // worker threads, the chart at the end of a crawl) come from the same build, whatever another
  // start links meanwhile.
  const build = realpathSync(dist);
  await import(pathToFileURL(join(build, `${basename(files[0], ".ts")}.mjs`)).href);
}

// How long a build that `dist` no longer names is kept for a tool still running from it.
const KEEP_OLD_BUILDS_MS = 60 * 60 * 1000;

/** Whether the bundles are missing, or older than a file that went into them (or made them). */
function stale(here, dist, makers) {
  const made = statSync(join(dist, "inputs.json"), { throwIfNoEntry: false });
  if (!made) return true;
  const inputs = JSON.parse(readFileSync(join(dist, "inputs.json"), "utf8"));
  return [...makers, ...inputs].some((input) => {
    const file = statSync(resolve(here, input), { throwIfNoEntry: false });
    return !file || file.mtimeMs > made.mtimeMs;
  });
}

// Each build is a folder of its own, dist.<pid>-<time>, and `dist` a symbolic link to the newest,
// put in place by rename(), which replaces the old link at once: a start that reads `dist`
// meanwhile finds a whole build, the old or the new, never none or half of one, and a tool
// already running from the old build goes on loading from it. Two starts that both find it
// stale both build it, and the link names the one that finished last.
async function bundle(here, dist, entries) {
  const { build } = await import("esbuild");
  // The time before esbuild reads the sources: a file saved while it builds is newer than this,
  // and so makes the next start build again (stale() compares with inputs.json's time).
  const began = new Date();
  const folder = `${dist}.${process.pid}-${began.getTime()}`;
  const names = new Map(Object.entries(entries).map(([name, path]) => [path, name]));
  const result = await build({
    entryPoints: entries,
    outdir: folder,
    absWorkingDir: here, // the paths in metafile.inputs are relative to this
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    metafile: true,
    logLevel: "warning",
    // Some CommonJS packages call require(); an ES module has none unless it makes one.
    banner: {
      js: "import { createRequire as $$createRequire } from 'node:module'; const require = $$createRequire(import.meta.url);",
    },
    plugins: [
      { name: "paths", setup: (b) => b.onLoad({ filter: /\.ts$/ }, (file) => adjust(file, names)) },
      {
        name: "chart",
        setup: (b) => {
          b.onResolve({ filter: /^@async-from-scratch\/shared\/chart$/ }, () =>
            "chart" in entries
              ? { path: "./chart.mjs", external: true }
              : { path: "chart", namespace: "no-charts" },
          );
          b.onLoad({ filter: /.*/, namespace: "no-charts" }, () => ({
            contents: `throw new Error(${JSON.stringify(`${here}/start.mjs: startBundled(..., { charts: true }) to draw a chart`)});`,
          }));
        },
      },
    ],
  });
  // The files the bundles were made of (Vega's 300 among them, where it is bundled), for stale().
  const inputs = Object.keys(result.metafile.inputs).filter(
    (input) => !input.startsWith("no-charts:"),
  );
  writeFileSync(join(folder, "inputs.json"), JSON.stringify(inputs));
  utimesSync(join(folder, "inputs.json"), began, began);
  const link = `${folder}.link`;
  symlinkSync(basename(folder), link);
  // A `dist` folder of before builds were linked: a link cannot replace it, so it goes first.
  if (lstatSync(dist, { throwIfNoEntry: false })?.isDirectory()) {
    rmSync(dist, { recursive: true, force: true });
  }
  renameSync(link, dist);
  removeOldBuilds(here, basename(realpathSync(dist)));
}

/** Builds other than `current` (and folders of builds killed half-way) older than an hour. */
function removeOldBuilds(here, current) {
  for (const name of readdirSync(here)) {
    if (!name.startsWith("dist.") || name === current) continue;
    const path = join(here, name);
    const made = lstatSync(path, { throwIfNoEntry: false });
    if (made && Date.now() - made.mtimeMs > KEEP_OLD_BUILDS_MS) {
      rmSync(path, { recursive: true, force: true });
    }
  }
}

function adjust({ path }, names) {
  const source = JSON.stringify(pathToFileURL(path).href);
  // One pass, so that the import.meta.url kept in a worker's new URL() is not replaced after.
  const contents = readFileSync(path, "utf8").replace(
    /new URL\("(\.\/[\w.-]+\.ts)", import\.meta\.url\)|import\.meta\.url/g,
    (whole, file) => {
      const name = file && names.get(join(dirname(path), file));
      if (name) return `new URL("./${name}.mjs", import.meta.url)`;
      return whole.replace("import.meta.url", source);
    },
  );
  return { contents, loader: "ts" };
}
