// Running a TypeScript file elsewhere: in a worker thread, for the lessons whose threads need the
// native module and the HTTP helper, or in a child process, for a lesson that runs another.
//
// The lessons run under tsx, which teaches Node to load .ts files. Under Node 20 that teaching
// (`node --import tsx`) stays in the main thread: a Worker given a .ts file fails with
// ERR_UNKNOWN_FILE_EXTENSION. So the worker starts as a line of plain JavaScript that registers
// tsx in its own thread first, and only then imports the TypeScript module.
//
//   const worker = startTypeScriptWorker(import.meta.url, { href });
//   // in that module: if (!isMainThread) { ... workerData.href ... }
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker, type TransferListItem } from "node:worker_threads";

/**
 * Starts a worker thread that runs the TypeScript module at moduleUrl (a lesson passes its own
 * import.meta.url) with the given workerData (and transferList: ports it hands over, not copies).
 * A .js or .mjs module runs as it is. A module that fails to load or throws shows up as the
 * worker's 'error' event, as with any Worker.
 */
export function startTypeScriptWorker(
  moduleUrl: string | URL,
  workerData?: unknown,
  transferList: TransferListItem[] = [],
): Worker {
  // A module already in JavaScript (a tool's bundle, say) needs no tsx, and starts faster without.
  if (/\.m?js$/.test(new URL(moduleUrl).pathname)) {
    return new Worker(new URL(moduleUrl), { workerData, transferList });
  }
  // Resolved here, where tsx is a dependency: the eval'd code has no folder to resolve from.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const module = JSON.stringify(String(moduleUrl));
  const code = `import(${tsx}).then(({ register }) => { register(); return import(${module}); });`;
  return new Worker(code, { eval: true, workerData, transferList });
}

export interface ProgramRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript program in a child process of its own (Node with tsx's loader, as
 * `pnpm run` starts a lesson) to its end, and hands back what it printed.
 */
export function runTypeScriptProgram(file: string | URL, args: string[]): Promise<ProgramRun> {
  const path = typeof file === "string" ? file : fileURLToPath(file);
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), path, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  // If we end first, so does the child.
  const kill = () => child.kill();
  process.on("exit", kill);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => {
      process.off("exit", kill);
      resolve({ status, stdout, stderr });
    });
  });
}
