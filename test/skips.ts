// Checks that this machine cannot run, each with the reason: io_uring where the kernel lacks it
// or a seccomp filter refuses it, say. A test file registers such a check through testOrSkip()
// instead of uvu's test(), and run.ts prints the skipped ones on lines of their own, counted
// neither as passed (they proved nothing) nor as failed (nothing is wrong with the code).
//
// uvu's own test.skip() and test.only() are another matter: left in a file, they are mistakes,
// and run.ts counts what they skip as failed.
import { createServer } from "node:net";
import { test } from "uvu";

export interface SkippedCheck {
  name: string;
  reason: string;
}

/** Filled as the test files load; run.ts reads it after they have run. */
export const skippedChecks: SkippedCheck[] = [];

type Register = (name: string, check: () => unknown) => void;

/**
 * uvu's test() when whyNot is null; else a stand-in that records each check it is given as
 * skipped, with whyNot as the reason, and never runs it.
 */
export function testOrSkip(whyNot: string | null): Register {
  if (whyNot === null) return (name, check) => test(name, async () => void (await check()));
  return (name) => void skippedChecks.push({ name, reason: whyNot });
}

/** Why nothing can listen on ::1 here (a kernel or container without IPv6), or null. */
export async function whyNoIPv6(): Promise<string | null> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "::1", resolve);
    });
    return null;
  } catch (error) {
    return `no IPv6 here: cannot listen on ::1 (${(error as NodeJS.ErrnoException).code})`;
  } finally {
    server.close();
  }
}
