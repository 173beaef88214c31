// The crawler on IPv6, as curl and browsers speak it: "http://[::1]:PORT/" taken as a start URL
// (the lessons, AF_INET as the lecture's sockets are, refuse it clearly); the fixture site served
// on ::1 alone crawled by both engines with the same result as on 127.0.0.1; a host's addresses
// tried in turn, a refused or silent one falling back to the next, the one that worked tried
// first from then on. The addresses of a name are given to the fetcher here: this machine's
// /etc/hosts maps "localhost" to 127.0.0.1 alone, where many map it to ::1 as well.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AF_INET, AF_INET6, Socket } from "@async-from-scratch/native";
import { buildRequest } from "@async-from-scratch/shared";
import { Index } from "@async-from-scratch/shared/search";
import { startSite } from "@async-from-scratch/shared/site";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ENGINES, type Engine, createEngine } from "../examples/crawler/engine.ts";
import { Fetcher } from "../examples/crawler/fetcher.ts";
import { type Entry, reasonOf } from "../examples/crawler/report.ts";
import { hostOf, normalizeUrl, siteOf } from "../examples/crawler/urls.ts";
import { runLesson } from "./lessons.ts";
import { testOrSkip, whyNoIPv6 } from "./skips.ts";

const scratchDir = mkdtempSync(join(tmpdir(), "crawler-ipv6-test-"));

const withIPv6 = testOrSkip(await whyNoIPv6());

test("--url: the crawler takes http://[::1]:PORT/; a lesson says its sockets are AF_INET", async () => {
  const lesson = await runLesson("2_good_socket", ["--url", "http://[::1]:8080/"]);
  assert.is(lesson.status, 2);
  assert.match(lesson.stderr, /IPv6 addresses are not supported by 2_good_socket: its sockets/);
  // Port 1 on ::1: nothing listens there, so the flag was taken and the connection refused.
  const crawl = await runLesson("crawler", [
    ...["--url", "http://[::1]:1/", "--out", join(scratchDir, "refused"), "--svg", "none"],
  ]);
  assert.is(crawl.status, 1, crawl.stderr);
  assert.match(crawl.stdout, /^Crawled http:\/\/\[::1\]:1\/ with the scratch engine/m);
  // Refused, or (without IPv6 here) not available: the reason either way, not a crash.
  assert.match(crawl.stdout, /^ {2}1 x robots\.txt: (connection refused|address .* here): \/$/m);
});

test("bracketed hosts: one spelling, the site with its port, the Host header in brackets", () => {
  const url = normalizeUrl("../b/./c#top", "http://[0:0:0:0:0:0:0:1]:8080/a/x");
  assert.is(url, "http://[::1]:8080/b/c");
  assert.is(hostOf(url!), "[::1]:8080");
  assert.is(siteOf("http://[::1]:80/"), "[::1]", "the default port left out");
  assert.is(siteOf("http://[::1]:8080/"), "[::1]:8080");
  assert.is(normalizeUrl("http://[::FFFF:127.0.0.1]/"), "http://[::ffff:7f00:1]/");
  const head = Buffer.from(buildRequest(new URL(url!), { httpVersion: "1.1" })).toString("latin1");
  assert.ok(head.startsWith("GET /b/c HTTP/1.1\r\nHost: [::1]:8080\r\n"), head);
});

/** A crawl's log, each URL's outcome by its path; and the URLs the index holds. */
function readCrawl(out: string) {
  const byPath = new Map<string, string>();
  const urls: string[] = [];
  for (const line of readFileSync(join(out, "crawl-log.jsonl"), "utf8").split("\n")) {
    if (line === "") continue;
    const { url, outcome, status, reason, to } = JSON.parse(line) as Entry; // a line of the crawl log
    urls.push(url);
    const { pathname, search } = new URL(url);
    // Which of two identical pages is indexed is whichever arrives first.
    const kept =
      outcome === "duplicate" || outcome === "indexed" ? "indexed or duplicate" : outcome;
    const target = to === undefined ? undefined : new URL(to).pathname;
    const same = reason === "same body" ? undefined : reason;
    byPath.set(pathname + search, JSON.stringify({ kept, status, reason: same, target }));
  }
  const index = Index.open(out);
  try {
    const indexed = urls.filter((url) => index.page(url) !== undefined);
    return { byPath, urls, indexed };
  } finally {
    index.close();
  }
}

/** The report from "URLs discovered" to before "Links to": the counts, the same on every run. */
const counts = (stdout: string) =>
  stdout.slice(stdout.indexOf("URLs discovered"), stdout.indexOf("Links to"));

withIPv6(
  "the fixture site on ::1 alone: both engines crawl it as they crawl it on 127.0.0.1",
  async () => {
    const site = await startSite({ host: "::1", articles: 10 });
    try {
      assert.match(site.url, /^http:\/\/\[::1\]:\d+\/$/);
      const crawl = async (name: string, args: string[]) => {
        const out = join(scratchDir, name);
        const run = await runLesson("crawler", ["--out", out, "--svg", "none", ...args]);
        assert.is(run.status, 0, `${name}: ${run.stderr}`);
        return { ...run, ...readCrawl(out) };
      };
      const starts = ["--url", site.url, "--url", `${site.url}wild/`];
      const [scratch, node, v4] = await Promise.all([
        crawl("ipv6-scratch", [...starts, "--engine", "scratch"]),
        crawl("ipv6-node", [...starts, "--engine", "node"]),
        crawl("ipv4", ["--articles", "10"]), // the fixture site the crawler starts: 127.0.0.1
      ]);
      const where = `${site.url} and ${site.url}wild/`;
      assert.match(scratch.stdout, new RegExp(`^Crawled ${escape(where)} with the scratch engine`));
      for (const run of [scratch, node]) {
        assert.is(counts(run.stdout), counts(v4.stdout));
        assert.equal(Object.fromEntries(run.byPath), Object.fromEntries(v4.byPath));
        // Every URL logged and indexed on the site's host, in brackets: none lost its way.
        assert.ok(
          run.urls.every((url) => url.startsWith(site.url)),
          run.urls.join("\n"),
        );
        assert.ok(run.indexed.length > 30, `${run.indexed.length} pages indexed`);
      }
      // Redirects, robots.txt, Crawl-delay-free pacing, retries: all the same on ::1.
      assert.ok(v4.byPath.size > 50, `${v4.byPath.size} URLs`);
    } finally {
      await site.stop();
    }
  },
);

/**
 * Runs use on engine's loop with a Fetcher whose engine resolves every name to `addresses` and
 * records each address it connects to. An address "blackhole" never answers: its connect waits
 * until aborted, as one whose packets a firewall drops.
 */
async function withAddresses(
  engineName: (typeof ENGINES)[number],
  addresses: string[],
  timeoutMs: number,
  use: (fetcher: Fetcher, connects: string[], engine: Engine) => Promise<void>,
): Promise<void> {
  const engine = createEngine(engineName);
  const connects: string[] = [];
  const given: Engine = {
    name: engine.name,
    time: () => engine.time(),
    resolve: async () => addresses,
    connect: (address, port, signal) => {
      connects.push(address);
      if (address !== "blackhole") return engine.connect(address, port, signal);
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    },
    sleep: (ms, signal) => engine.sleep(ms, signal),
    withTimeout: (ms, work, parent) => engine.withTimeout(ms, work, parent),
    onSignal: (handler) => engine.onSignal(handler),
    pool: (url, size) => engine.pool(url, size),
    run: (main) => engine.run(main),
    close: () => engine.close(),
  };
  try {
    await engine.run(async () => {
      const fetcher = new Fetcher(given, { timeoutMs, maxBodyBytes: 1 << 20, userAgent: "test" });
      try {
        await use(fetcher, connects, engine);
      } finally {
        fetcher.close();
      }
    });
  } finally {
    await engine.close();
  }
}

/**
 * Holds [address, port] so that a connection there is refused: a socket bound there that does
 * not listen. Without IPv6 here, ::1 cannot be bound, and a connection to it fails anyway
 * (EADDRNOTAVAIL, ENETUNREACH): either way, nothing answers there.
 */
function refuseAt(address: string, port: number): Socket {
  const sock = new Socket(address.includes(":") ? AF_INET6 : AF_INET);
  try {
    sock.bind([address, port]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EADDRNOTAVAIL" && code !== "EAFNOSUPPORT") {
      sock.close();
      throw new Error(`[${address}]:${port} cannot be held for the test: ${code}`);
    }
  }
  return sock;
}

for (const engineName of ENGINES) {
  test(`${engineName}: ::1 refused, 127.0.0.1 taken; the next connection goes to 127.0.0.1 first`, async () => {
    const site = await startSite({ articles: 1 });
    const refusing = refuseAt("::1", site.port);
    try {
      await withAddresses(engineName, ["::1", "127.0.0.1"], 5000, async (fetcher, connects) => {
        const url = new URL(`http://name.test:${site.port}/`);
        assert.is((await fetcher.fetch(url, AbortSignal.timeout(5000))).status, 200);
        fetcher.close(); // the kept-alive connection: the next fetch opens a new one
        assert.is((await fetcher.fetch(url, AbortSignal.timeout(5000))).status, 200);
        assert.equal(connects, ["::1", "127.0.0.1", "127.0.0.1"]);
        assert.is(fetcher.stats.connections, 2, "an attempt that failed is no connection");
      });
    } finally {
      refusing.close();
      await site.stop();
    }
  });

  test(`${engineName}: an address that never answers gives way to the next within half the timeout`, async () => {
    const site = await startSite({ articles: 1 });
    try {
      const timeoutMs = 2000;
      await withAddresses(
        engineName,
        ["blackhole", "127.0.0.1"],
        timeoutMs,
        async (fetcher, connects, engine) => {
          const started = engine.time();
          const url = new URL(`http://name.test:${site.port}/`);
          assert.is((await fetcher.fetch(url, AbortSignal.timeout(10_000))).status, 200);
          const ms = engine.time() - started;
          assert.equal(connects, ["blackhole", "127.0.0.1"]);
          // Half of the 2 s, give or take a busy machine: not the whole timeout.
          assert.ok(ms >= timeoutMs / 2 - 50 && ms < timeoutMs, `${ms.toFixed(0)} ms`);
        },
      );
    } finally {
      await site.stop();
    }
  });

  test(`${engineName}: no address takes the connection: the last one's error, each tried once`, async () => {
    const nowhere = refuseAt("127.0.0.1", 0);
    const port = nowhere.getsockname()[1];
    const refusing = refuseAt("::1", port);
    try {
      await withAddresses(engineName, ["::1", "127.0.0.1"], 5000, async (fetcher, connects) => {
        const url = new URL(`http://name.test:${port}/`);
        const error = await fetcher.fetch(url, AbortSignal.timeout(5000)).then(
          () => assert.unreachable("fetched from a port nothing listens on"),
          (error: unknown) => error,
        );
        assert.is(reasonOf(error, 5000), "connection refused");
        assert.equal(connects, ["::1", "127.0.0.1"]);
      });
    } finally {
      refusing.close();
      nowhere.close();
    }
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test.after(() => {
  if (existsSync(scratchDir)) rmSync(scratchDir, { recursive: true, force: true });
});

test.run();
