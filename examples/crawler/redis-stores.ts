// The crawl's stores in Redis, so that several crawler processes (on one machine or several)
// share one crawl: `--frontier redis://host:port/`. Each URL is fetched once across all of them,
// and nothing is lost when one dies, even by SIGKILL in the middle of a fetch.
//
// What lives where (the keys, all under "crawler:"):
//   frontier  a Redis Stream of URLs to fetch, one entry each ({host, item}), read through the
//             consumer group "crawlers": XREADGROUP hands each entry to one crawler only, and
//             keeps it in the group's pending list, against that crawler's name, until the
//             crawler acknowledges it (XACK) along with its outcome.
//   seen      a Set of every URL discovered: SADD says "new" or "not" in the same step.
//   digests   a Hash from the digest of each body read to the URL it was read at.
//   counts    a Hash of outcome -> URLs: the Tally of the whole crawl.
// Each crawler keeps in memory only its queues (a MemoryFrontier of what it has taken), a Set of
// the URLs it has seen itself (which spares it asking Redis about links it found before), and its
// own Tally, for its report.
//
// Nothing lost. Three steps change the crawl, and each is one Lua script (EVAL), which Redis runs
// whole or not at all, however the crawler dies:
//   PUSH     a link: if SADD seen says new, XADD it to the frontier;
//   COUNT    a link that will not be fetched (excluded, --max-depth): if new, count its outcome;
//   FINISH   a URL fetched: XACK (and XDEL) its entry, and only if that acknowledged it, count its
//            outcome. A crawler that took the entry over from one thought dead, and finished it
//            too, counts nothing: every URL counts once.
// The crawler sends a page's PUSHes before its FINISH, on one connection, so Redis runs them in
// that order: a crawler killed in between leaves its entry unacknowledged, and whoever fetches it
// again finds the links already pushed (SADD says "not new") and pushes none twice.
//
// Leases. An entry a crawler has taken is its lease. While alive, the crawler renews its leases
// every third of --lease (XCLAIM of its own entries, which resets their idle time). Every take()
// first claims, with XAUTOCLAIM, entries idle for longer than --lease: those of a crawler that
// died (or hung). So a killed crawler's URLs are fetched by another --lease later. One that hung
// longer than --lease and then wakes renews its leases, even those taken over meanwhile: then two
// crawlers fetch the URL, and FINISH counts it once.
// Why Streams and not a list per host with BRPOPLPUSH (RPOPLPUSH's "reliable queue"): the pending
// list, its idle times and XAUTOCLAIM are that lease scheme, built in and atomic; a hand-made
// one needs a processing list per crawler, a timestamp per entry and a reaper that scans them.
// What Streams cost: one stream for all hosts, so politeness (--per-host, Crawl-delay) holds per
// crawler, not across them (see the README: real crawlers give each host to one crawler).
//
// The client is our own (redis.ts): the scratch loop owns the thread.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { RespReply } from "@async-from-scratch/shared";
import type { Engine } from "./engine.ts";
import { type Arg, RedisClient } from "./redis.ts";
import { Tally, type Entry, OUTCOMES, type Outcome } from "./report.ts";
import {
  MemoryFrontier,
  MemorySeenSet,
  type DigestSet,
  type Frontier,
  type Item,
} from "./stores.ts";

const KEYS = {
  frontier: "crawler:frontier",
  seen: "crawler:seen",
  digests: "crawler:digests",
  counts: "crawler:counts",
};
const GROUP = "crawlers";

// KEYS: seen, frontier. ARGV: url, host, item (JSON).
const PUSH = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'host', ARGV[2], 'item', ARGV[3])
return 1`;
// KEYS: seen, counts. ARGV: url, outcome.
const COUNT = `
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return 1`;
// KEYS: frontier, counts. ARGV: group, entry id, outcome.
const FINISH = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1`;
// KEYS: frontier. ARGV: group, entry id, host, item. An entry given back, as a fresh one.
const RELEASE = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'host', ARGV[3], 'item', ARGV[4])
return 1`;
// KEYS: digests. ARGV: digest, url. New, or the same URL again (read once more after a crash).
const DIGEST = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return 1 end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 1 end
return 0`;

export interface RedisStoreOptions {
  /** Milliseconds an entry may go unrenewed before another crawler takes it over. */
  leaseMs: number;
  /** How long take() waits before saying "none now" while other crawlers are at work. */
  pollMs: number;
}

/** What the whole crawl has done so far, from Redis. */
export interface SharedTotals {
  counts: Record<Outcome, number>;
  /** URLs discovered (the seen set). */
  discovered: number;
  /** URLs in the frontier: waiting, or taken and not yet finished. */
  waiting: number;
}

/**
 * One crawler's view of the shared crawl: the stores the Crawler takes (frontier, seen,
 * digests, tally), on one connection. close() gives back what it took and did not finish.
 */
export class RedisCrawl {
  readonly frontier: RedisFrontier;
  /** The URLs this crawler has seen itself; Redis is asked in PUSH and COUNT. */
  readonly seen = new MemorySeenSet();
  readonly digests: DigestSet;
  readonly tally: RedisTally;
  /**
   * This crawler's name in the consumer group: host and pid, and a few random bytes, since
   * containers on several machines may share a host name, and all be pid 1.
   */
  readonly consumer = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  readonly #client: RedisClient;
  readonly #engine: Engine;
  readonly #options: RedisStoreOptions;
  /** Entries taken and not yet finished: URL -> entry id. */
  readonly #leases = new Map<string, string>();
  readonly #closing = new AbortController();
  #failure: Error | null = null;
  /** URLs claimed from crawlers whose lease ran out (dead, or hung). */
  takenOver = 0;
  /** Called once, with the first error of a command nobody awaits (PUSH, COUNT, FINISH). */
  onFailure: (error: Error) => void = () => {};

  private constructor(client: RedisClient, engine: Engine, options: RedisStoreOptions) {
    this.#client = client;
    this.#engine = engine;
    this.#options = options;
    this.frontier = new RedisFrontier(this);
    this.tally = new RedisTally(this);
    this.digests = {
      add: async (digest, url) =>
        (await this.#call("EVAL", DIGEST, 1, KEYS.digests, digest, url)) === 1,
    };
  }

  /** Connects, and makes the consumer group if this is the crawl's first crawler. */
  static async open(engine: Engine, url: string, options: RedisStoreOptions): Promise<RedisCrawl> {
    const client = await connect(engine, url);
    try {
      await client.call("XGROUP", "CREATE", KEYS.frontier, GROUP, "0", "MKSTREAM");
    } catch (error) {
      if ((error as { code?: string }).code !== "BUSYGROUP") {
        client.close();
        throw error;
      }
    }
    const crawl = new RedisCrawl(client, engine, options);
    void crawl.#renewLeases();
    return crawl;
  }

  /** Deletes the crawl kept in the Redis at url: the next crawler starts a new one. */
  static async clear(engine: Engine, url: string): Promise<void> {
    const client = await connect(engine, url);
    try {
      await client.call("DEL", ...Object.values(KEYS));
    } finally {
      client.close();
    }
  }

  /** The whole crawl's counts, from the Redis at url. */
  static async totals(engine: Engine, url: string): Promise<SharedTotals> {
    const client = await connect(engine, url);
    try {
      const [counts, discovered, waiting] = await Promise.all([
        client.call("HGETALL", KEYS.counts),
        client.call("SCARD", KEYS.seen),
        client.call("XLEN", KEYS.frontier),
      ]);
      const pairs = counts as string[];
      const byOutcome = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0]));
      for (let i = 0; i < pairs.length; i += 2) byOutcome[pairs[i]!] = Number(pairs[i + 1]);
      return {
        counts: byOutcome as Record<Outcome, number>,
        discovered: discovered as number,
        waiting: waiting as number,
      };
    } finally {
      client.close();
    }
  }

  /**
   * Gives back the entries taken and not finished (in the queues, or waiting for a retry), so
   * that another crawler need not wait out their lease; then closes the connection.
   */
  async close(): Promise<void> {
    this.#closing.abort();
    if (this.#failure === null) {
      const giveBack = [...this.frontier.local.items()].map(([host, item]) => {
        const id = this.#leases.get(item.url)!;
        this.#leases.delete(item.url);
        return this.#call("EVAL", RELEASE, 1, KEYS.frontier, GROUP, id, host, JSON.stringify(item));
      });
      await Promise.allSettled(giveBack);
      // Every reply is in once PING's is: the last FINISH has been counted here too.
      await this.#call("PING").catch(() => {});
      await this.#call("XGROUP", "DELCONSUMER", KEYS.frontier, GROUP, this.consumer).catch(
        () => {},
      );
    }
    this.#client.close();
    if (this.#failure !== null) throw this.#failure;
  }

  // ---- for the stores below ------------------------------------------------------------------

  /** A command whose reply the caller awaits; an error fails the crawl as well. */
  async #call(...args: Arg[]): Promise<RespReply> {
    try {
      return await this.#client.call(...args);
    } catch (error) {
      this.#fail(error as Error);
      throw error;
    }
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.onFailure(error);
  }

  /** PUSH: queues item for whichever crawler takes it, if no crawler has seen its URL. */
  push(host: string, item: Item): void {
    this.#call(
      "EVAL",
      PUSH,
      2,
      KEYS.seen,
      KEYS.frontier,
      item.url,
      host,
      JSON.stringify(item),
    ).catch(() => {}); // #call has failed the crawl
  }

  /** Whether url is an entry this crawler has taken and not finished. */
  holds(url: string): boolean {
    return this.#leases.has(url);
  }

  /** COUNT or FINISH, as entry's URL was taken or not; then counted here, if counted there. */
  record(entry: Entry, count: (entry: Entry) => void): void {
    const id = this.#leases.get(entry.url);
    let done: Promise<RespReply>;
    if (id === undefined) {
      done = this.#call("EVAL", COUNT, 2, KEYS.seen, KEYS.counts, entry.url, entry.outcome);
    } else {
      this.#leases.delete(entry.url);
      done = this.#call("EVAL", FINISH, 2, KEYS.frontier, KEYS.counts, GROUP, id, entry.outcome);
    }
    done.then((counted) => counted === 1 && count(entry)).catch(() => {});
  }

  /** See Frontier.take(). */
  async take(max: number, into: MemoryFrontier): Promise<number | null> {
    // One transaction, so that the three answers are of one moment: no new entries and none
    // pending means that no crawler holds a URL that could still lead to more.
    const [claimed, fresh, pending] = await this.#transaction([
      [
        "XAUTOCLAIM",
        KEYS.frontier,
        GROUP,
        this.consumer,
        this.#options.leaseMs,
        "0-0",
        "COUNT",
        max,
      ],
      ["XREADGROUP", "GROUP", GROUP, this.consumer, "COUNT", max, "STREAMS", KEYS.frontier, ">"],
      ["XPENDING", KEYS.frontier, GROUP],
    ]);
    type Entries = ([id: string, fields: string[]] | null)[];
    const entries: Entries = [
      ...((claimed as [string, Entries])[1] ?? []),
      ...(((fresh as [string, Entries][] | null)?.[0]?.[1] ?? []) as Entries),
    ];
    let taken = 0;
    const claimedCount = ((claimed as [string, Entries])[1] ?? []).length;
    for (const [i, entry] of entries.entries()) {
      if (entry === null) continue; // deleted since (finished by the crawler it was claimed from)
      const [id, fields] = entry;
      const host = fields[fields.indexOf("host") + 1]!;
      const item = JSON.parse(fields[fields.indexOf("item") + 1]!) as Item;
      if (this.#leases.has(item.url)) continue; // ours already (claimed back from ourselves)
      this.#leases.set(item.url, id);
      this.seen.add(item.url); // found again as a link here: not new
      into.push(host, item);
      taken++;
      if (i < claimedCount) this.takenOver++;
    }
    if (taken > 0) return taken;
    if ((pending as [number])[0] === 0) return null;
    await this.#engine.sleep(this.#options.pollMs, this.#closing.signal).catch(() => {});
    return 0;
  }

  async #transaction(commands: Arg[][]): Promise<RespReply[]> {
    const replies = [
      this.#call("MULTI"),
      ...commands.map((command) => this.#call(...command)),
      this.#call("EXEC"),
    ];
    const results = await Promise.all(replies);
    const exec = results.at(-1) as RespReply[];
    const failed = exec.find((reply) => reply instanceof Error);
    if (failed !== undefined) throw failed;
    return exec;
  }

  /** Every third of the lease, while this crawler lives: its entries are not stale. */
  async #renewLeases(): Promise<void> {
    const every = Math.max(10, Math.floor(this.#options.leaseMs / 3));
    try {
      for (;;) {
        await this.#engine.sleep(every, this.#closing.signal);
        if (this.#leases.size === 0) continue;
        const ids = [...this.#leases.values()];
        await this.#call("XCLAIM", KEYS.frontier, GROUP, this.consumer, 0, ...ids, "JUSTID");
      }
    } catch {
      // closed, or the connection failed (and #call said so)
    }
  }
}

/** A connection, or a TimeoutError after 10 s (from the engine's clock: Node's may be asleep). */
function connect(engine: Engine, url: string): Promise<RedisClient> {
  return engine.withTimeout(10_000, (signal) => RedisClient.connect(engine, url, signal));
}

/** The frontier the Crawler sees: its own queues, filled from the shared stream by take(). */
class RedisFrontier implements Frontier {
  readonly local = new MemoryFrontier();
  readonly #crawl: RedisCrawl;

  constructor(crawl: RedisCrawl) {
    this.#crawl = crawl;
  }

  push(host: string, item: Item): void {
    // An entry of ours coming back (a fetch cancelled, a retry left when stopping) stays ours:
    // it is still in our lease, and close() gives it back.
    if (this.#crawl.holds(item.url)) this.local.push(host, item);
    else this.#crawl.push(host, item);
  }

  shift(host: string): Item | undefined {
    return this.local.shift(host);
  }

  hosts(): Iterable<string> {
    return this.local.hosts();
  }

  get size(): number {
    return this.local.size;
  }

  items(): Iterable<[string, Item]> {
    return this.local.items();
  }

  take(max: number): Promise<number | null> {
    return this.#crawl.take(max, this.local);
  }
}

/**
 * The outcome counts: in Redis for the whole crawl, here for this crawler's report and log. An
 * entry is counted here once Redis has counted it (the first crawler to finish a URL does).
 */
export class RedisTally extends Tally {
  readonly #crawl: RedisCrawl;

  constructor(crawl: RedisCrawl) {
    super();
    this.#crawl = crawl;
  }

  override record(entry: Entry): void {
    this.#crawl.record(entry, (counted) => super.record(counted));
  }
}
