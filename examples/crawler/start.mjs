// How `pnpm run crawler` starts: from a bundle that esbuild makes of the TypeScript, rebuilt
// whenever a file it was made from has changed since. Why: under tsx, every start compiles (or
// finds in its cache) and loads some sixty modules one by one through tsx's loader thread, and
// so do the worker threads; that took 2 to 3.5 s before the first request on this 2-core machine,
// against about 0.8 s from the bundle (examples/crawler/README.md has the figures). Crawlers are
// started often, and a person waits for each.
//
// The code is the same: main.ts, tasks.ts and dns.ts, each bundled with what it imports into
// dist/*.mjs, and shared/chart.ts (Vega, which drawChart loads only to draw the timeline at the
// end) into dist/chart.mjs of its own: in main's bundle it would be parsed at every start, 0.15 s
// of it here. Two things are adjusted on the way. A worker module named as new URL("./x.ts",
// import.meta.url) in the crawler's own files becomes "./x.mjs", its bundle. Everywhere else,
// import.meta.url becomes the URL of the source file, so that paths found from it (the native
// module's build/, the fixture site's main.ts, out/index) are where they always were.
//
// The tests start the crawler this way too, as a person does (test/lessons.ts); a few of them run
// main.ts with tsx instead, so that the TypeScript as a student reads and runs it is tested too.
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const entries = {
  main: join(here, "main.ts"),
  tasks: join(here, "tasks.ts"),
  dns: join(here, "dns.ts"),
  chart: join(here, "..", "..", "shared", "chart.ts"),
};

if (stale()) await bundle();
await import(pathToFileURL(join(dist, "main.mjs")).href);

/** Whether a bundle is missing, or older than a file that went into it. */
function stale() {
  const meta = join(dist, "meta.json");
  if (!existsSync(meta)) return true;
  const built = statSync(meta).mtimeMs;
  const { inputs } = JSON.parse(readFileSync(meta, "utf8"));
  return Object.keys(inputs).some((input) => {
    const path = join(here, input);
    return !existsSync(path) || statSync(path).mtimeMs > built;
  });
}

async function bundle() {
  const { build } = await import("esbuild");
  // Built aside and then moved into place, so that a second crawler starting meanwhile never
  // loads half a bundle.
  const temporary = `${dist}.${process.pid}`;
  const result = await build({
    entryPoints: entries,
    outdir: temporary,
    absWorkingDir: here, // the metafile's paths are relative to this
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
      { name: "paths", setup: (b) => b.onLoad({ filter: /\.ts$/ }, adjust) },
      {
        name: "chart",
        setup: (b) =>
          b.onResolve({ filter: /^@async-from-scratch\/shared\/chart$/ }, () => ({
            path: "./chart.mjs",
            external: true,
          })),
      },
    ],
  });
  writeFileSync(join(temporary, "meta.json"), JSON.stringify(result.metafile));
  rmSync(dist, { recursive: true, force: true });
  renameSync(temporary, dist);
}

function adjust({ path }) {
  let contents = readFileSync(path, "utf8");
  if (dirname(path) === here) {
    contents = contents.replace(
      /new URL\("\.\/(\w+)\.ts", import\.meta\.url\)/g,
      'new URL("./$1.mjs", import.meta.url)',
    );
  } else {
    contents = contents.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(path).href));
  }
  return { contents, loader: "ts" };
}
