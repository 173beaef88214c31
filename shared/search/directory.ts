// The files of an index directory, beside its segment files: index.json, the manifest that
// names the segments a reader should open, replaced atomically so a reader sees the old list or
// the new one; write.lock, which keeps a second writer out; and the naming and clean-up of
// segment files.
//
//   out/index/
//     index.json            {"format", "version", "analyzer", "pages", "segments": [...]}
//     segment-000007.seg    one segment (format.ts), named by a number that only goes up
//     write.lock            the pid of the writer, while one is writing
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BUILD_COMMAND,
  FORMAT_VERSION,
  SearchIndexError,
  corrupt,
  unreadable,
  wrongVersion,
} from "./format.ts";
import { ANALYZER_VERSION } from "./tokens.ts";

/** Where the crawler writes its index and search reads it unless told otherwise: out/index. */
export const DEFAULT_INDEX_DIR = fileURLToPath(new URL("../../out/index", import.meta.url));

export const MANIFEST = "index.json";
const LOCK = "write.lock";
export const FORMAT_NAME = "async-from-scratch search index";

/** What an index directory's index.json says. */
export interface Manifest {
  format: typeof FORMAT_NAME;
  version: number;
  analyzer: number;
  pages: number;
  segments: { file: string; pages: number; bytes: number }[];
}

/** Segment files are named segment-N.seg; a manifest that names any other file is not ours. */
export const SEGMENT_FILE = /^segment-(\d{1,9})\.seg$/;

/**
 * The manifest of the index in dir. Throws SearchIndexError: "missing" when there is none,
 * "version" when it was written by another version, "corrupt" when it cannot be read.
 */
export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A file given for the directory, an index.json that is a directory, one this user may not
    // read: each is said as what it is, not as a stack trace, nor as "no index there".
    if (code === "EACCES" || code === "EPERM") throw unreadable(path, error as Error);
    if (code === "EISDIR") throw corrupt(path, "a directory, not a file");
    if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
    if (!existsSync(dir)) {
      throw new SearchIndexError(
        "missing",
        `no search index at ${dir}: build one with ${BUILD_COMMAND}`,
      );
    }
    // A file: an index is a directory, and --out of this file would not make one.
    if (!statSync(dir).isDirectory()) {
      throw new SearchIndexError(
        "missing",
        `no search index at ${dir}: it is a file; an index is a directory, the one ` +
          "the crawler writes (out/index, or where its --out DIR says)",
      );
    }
    throw new SearchIndexError(
      "missing",
      `no search index in ${dir} (no ${MANIFEST} there): build one with ${BUILD_COMMAND}`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw corrupt(path, "not JSON");
  }
  if (manifest === null || typeof manifest !== "object" || manifest.format !== FORMAT_NAME) {
    throw corrupt(path, `not the manifest of a ${FORMAT_NAME}`);
  }
  if (manifest.version !== FORMAT_VERSION) {
    throw wrongVersion(dir, "format", Number(manifest.version), FORMAT_VERSION);
  }
  if (manifest.analyzer !== ANALYZER_VERSION) {
    throw wrongVersion(dir, "analyzer", Number(manifest.analyzer), ANALYZER_VERSION);
  }
  const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (
    !Array.isArray(manifest.segments) ||
    !manifest.segments.every(
      (s) =>
        typeof s?.file === "string" &&
        SEGMENT_FILE.test(s.file) &&
        whole(s.pages) &&
        whole(s.bytes),
    ) ||
    manifest.pages !== manifest.segments.reduce((sum, s) => sum + s.pages, 0)
  ) {
    throw corrupt(path, "its list of segments is malformed");
  }
  return manifest;
}

/**
 * The error, its message fitted to the index in dir: a SearchIndexError says how to build an
 * index with `pnpm run crawler`, which writes out/index; for an index elsewhere that would build
 * the wrong one, so the command names the directory (`pnpm run crawler -- --out /tmp/index`).
 * Anything else is returned as it is.
 */
export function forIndexAt(dir: string, error: unknown): unknown {
  if (!(error instanceof SearchIndexError) || resolve(dir) === DEFAULT_INDEX_DIR) return error;
  // Quoted for a POSIX shell where it has to be, as a person pastes the command.
  const word = /^[\w@%+=:,./-]+$/.test(dir) ? dir : `'${dir.replaceAll("'", `'\\''`)}'`;
  const command = `\`pnpm run crawler -- --out ${word}\``;
  return new SearchIndexError(error.reason, error.message.replace(BUILD_COMMAND, command));
}

/**
 * Makes `segments` the index in dir: writes its manifest atomically (a reader sees the old list
 * or the new one, never half of either), then deletes the segment files it no longer names. A
 * reader that opened those before keeps reading them: on Unix a deleted file lives while it is
 * open.
 */
export function publish(dir: string, segments: Manifest["segments"]): Manifest {
  const manifest: Manifest = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    analyzer: ANALYZER_VERSION,
    pages: segments.reduce((sum, s) => sum + s.pages, 0),
    segments,
  };
  const path = join(dir, MANIFEST);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(manifest, null, 2)}\n`);
  const fd = openSync(temporary, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temporary, path);
  const kept = new Set(segments.map((s) => s.file));
  for (const name of readdirSync(dir)) {
    if (SEGMENT_FILE.test(name) && !kept.has(name)) unlinkSync(join(dir, name));
  }
  return manifest;
}

/**
 * A name for a new segment file in dir: numbers go up from any segment file there, ours or a
 * dead writer's, so a new file never takes the name of one a reader may still have open.
 */
export function segmentNamer(dir: string): () => string {
  const numbers = readdirSync(dir).map((name) => Number(SEGMENT_FILE.exec(name)?.[1] ?? 0));
  let next = Math.max(0, ...numbers) + 1;
  return () => `segment-${String(next++).padStart(6, "0")}.seg`;
}

/**
 * Takes dir's write lock: a file holding our pid, created only if absent. A lock whose process
 * is gone (a writer that crashed) is taken over.
 */
export function lock(dir: string): void {
  const path = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
    }
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new SearchIndexError(
        "locked",
        `another program (pid ${pid}) is writing the index in ${dir}; ` +
          `wait for it, or delete ${path} if it is gone`,
      );
    }
    unlinkSync(path);
  }
}

/** Releases dir's write lock. */
export function unlock(dir: string): void {
  try {
    unlinkSync(join(dir, LOCK));
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
