// Builds build/Release/native.node with node-gyp, offline where it can be.
//
// node-gyp needs Node's C headers. By default it downloads them, which fails on a machine without
// internet. Official, nvm, Homebrew and Debian builds of Node ship the headers beside the binary,
// under <prefix>/include/node, so we point node-gyp at that prefix when the headers are there.
// (npm passes its own `nodedir` setting to node-gyp; pnpm does not, so we cannot rely on it.)
//
// The first build configures; later ones only run make, which recompiles what changed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const nodeGyp = createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
const prefix = dirname(dirname(process.execPath));
const haveHeaders = existsSync(join(prefix, "include", "node", "node_api.h"));
const nodedir = haveHeaders ? [`--nodedir=${prefix}`] : [];

function nodeGypRun(...args) {
  const result = spawnSync(process.execPath, [nodeGyp, ...args, "--loglevel=warn", ...nodedir], {
    cwd: packageDir,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    console.error(`native: node-gyp ${args[0]} failed (exit ${result.status ?? result.signal})`);
    if (!haveHeaders) {
      console.error(
        `native: no Node headers under ${prefix}/include/node; node-gyp had to download them`,
      );
    }
    process.exit(1);
  }
}

if (!existsSync(join(packageDir, "build", "Makefile"))) nodeGypRun("configure");
nodeGypRun("build");
