// Starting a worker thread that runs a TypeScript file, for the lessons whose threads need the
// native module and the HTTP helper.
//
// The lessons run under tsx, which teaches Node to load .ts files. Under Node 20 that teaching
// (`node --import tsx`) stays in the main thread: a Worker given a .ts file fails with
// ERR_UNKNOWN_FILE_EXTENSION. So the worker starts as a line of plain JavaScript that registers
// tsx in its own thread first, and only then imports the TypeScript module.
//
//   const worker = startTypeScriptWorker(import.meta.url, { href });
//   // in that module: if (!isMainThread) { ... workerData.href ... }
import { Worker, type TransferListItem } from "node:worker_threads";

/**
 * Starts a worker thread that runs the TypeScript module at moduleUrl (a lesson passes its own
 * import.meta.url) with the given workerData (and transferList: ports it hands over, not copies).
 * A module that fails to load or throws shows up as
 * the worker's 'error' event, as with any Worker.
 */
export function startTypeScriptWorker(
  moduleUrl: string | URL,
  workerData?: unknown,
  transferList: TransferListItem[] = [],
): Worker {
  // Resolved here, where tsx is a dependency: the eval'd code has no folder to resolve from.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const module = JSON.stringify(String(moduleUrl));
  const code = `import(${tsx}).then(({ register }) => { register(); return import(${module}); });`;
  return new Worker(code, { eval: true, workerData, transferList });
}
