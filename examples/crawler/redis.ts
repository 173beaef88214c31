// A Redis client on the engine's sockets (engine.ts): one connection, commands pipelined.
//
// Why our own, when node-redis and ioredis are well kept: both are made of net.Socket and
// Node's timers, which run only when Node's loop does, and the scratch engine's loop keeps
// Node's asleep in epoll_wait (shared/loop). A client made of the engine's connect/send/recv runs
// on either engine, as the fetcher does; the protocol itself is the sans-I/O codec in
// shared/resp.ts, so this file is only the part that moves bytes.
//
// Pipelining: every command called in the same turn of the loop goes out in one send(), and the
// replies come back in order, so a crawler that discovers forty links in a page pays one round
// trip for them, not forty. Commands called while a send is under way wait for the next one.
// Replies are matched to commands by order alone (a FIFO of waiting promises), which is what
// RESP promises on one connection.
//
// Leaves out: reconnecting (a lost connection fails every command waiting and every later one:
// the crawler stops, and another crawler, or this one started again, takes over its URLs),
// AUTH, TLS, RESP3, Cluster.
import {
  NEED_DATA,
  RedisError,
  RespParser,
  encodeCommand,
  type RespReply,
} from "@async-from-scratch/shared";
import { type Connection, type Engine, connectFirst } from "./engine.ts";

export type Arg = string | number;

interface Waiting {
  resolve: (reply: RespReply) => void;
  reject: (error: Error) => void;
}

/** Where a Redis lives, from `redis://host:port/` (port 6379 if none is given). */
export function parseRedisUrl(text: string): { host: string; port: number; url: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(text)} (want redis://host:port/)`);
  }
  if (url.protocol !== "redis:") {
    throw new Error(`${JSON.stringify(text)} is not a redis:// URL (want redis://host:port/)`);
  }
  if (url.username || url.password) throw new Error("redis:// with a password: AUTH is left out");
  if (url.pathname !== "" && url.pathname !== "/") {
    throw new Error(`redis:// with a path (${url.pathname}): database numbers are left out`);
  }
  const port = url.port === "" ? 6379 : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return { host, port, url: `redis://${url.host}/` };
}

export class RedisClient {
  readonly #connection: Connection;
  readonly #parser = new RespParser();
  readonly #waiting: Waiting[] = [];
  readonly #closing = new AbortController();
  #unsent: Uint8Array[] = [];
  #sending = false;
  #failure: Error | null = null;

  private constructor(connection: Connection) {
    this.#connection = connection;
    void this.#readReplies();
  }

  /** Connects to url (redis://host:port/) through engine. */
  static async connect(engine: Engine, url: string, signal: AbortSignal): Promise<RedisClient> {
    const { host, port } = parseRedisUrl(url);
    // "localhost" may be ::1 and 127.0.0.1, and a Redis server listen on either or both.
    const addresses = await engine.resolve(host);
    return new RedisClient((await connectFirst(engine, addresses, port, signal)).connection);
  }

  /**
   * Sends a command (with those called in the same turn) and settles with its reply. An error
   * reply rejects with a RedisError; a broken connection rejects this and every later call.
   */
  call(...args: Arg[]): Promise<RespReply> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#unsent.push(encodeCommand(args));
      // After the caller's other calls of this turn: they go out together.
      if (this.#unsent.length === 1 && !this.#sending) queueMicrotask(() => void this.#send());
    });
  }

  /** Closes the connection; commands still waiting fail. */
  close(): void {
    this.#fail(new Error("the Redis connection was closed"));
  }

  async #send(): Promise<void> {
    if (this.#sending || this.#failure !== null) return;
    this.#sending = true;
    try {
      while (this.#unsent.length > 0) {
        const batch = Buffer.concat(this.#unsent);
        this.#unsent = [];
        await this.#connection.send(batch, this.#closing.signal);
      }
    } catch (error) {
      this.#fail(asError(error, "sending to Redis"));
    } finally {
      this.#sending = false;
    }
  }

  async #readReplies(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.#connection.recv(this.#closing.signal);
        this.#parser.receiveData(chunk);
        for (let reply = this.#parser.nextReply(); reply !== NEED_DATA;) {
          const waiting = this.#waiting.shift();
          if (waiting === undefined) throw new Error("Redis answered a command never sent");
          if (reply instanceof RedisError) waiting.reject(reply);
          else waiting.resolve(reply);
          reply = this.#parser.nextReply();
        }
        if (chunk.length === 0) throw new Error("Redis closed the connection");
      }
    } catch (error) {
      this.#fail(asError(error, "reading from Redis"));
    }
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.#closing.abort(error);
    this.#connection.close();
    for (const waiting of this.#waiting.splice(0)) waiting.reject(error);
    this.#unsent = [];
  }
}

function asError(error: unknown, doing: string): Error {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? new Error(`${doing}: ${code} (${error.message})`) : error;
  }
  return new Error(`${doing}: ${String(error)}`);
}
