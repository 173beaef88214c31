// The Redis protocol codec (shared/resp.ts), fed every reply whole, one byte at a time, split in
// two at every point, and with the next reply's bytes behind it; then the client on it
// (examples/crawler/redis.ts) against a real redis-server, on both engines.
import { Buffer } from "node:buffer";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  NEED_DATA,
  RedisError,
  RespParser,
  RespProtocolError,
  encodeCommand,
  type RespReply,
} from "../shared/index.ts";
import { createEngine } from "../examples/crawler/engine.ts";
import { RedisClient, parseRedisUrl } from "../examples/crawler/redis.ts";
import { startRedis, whyNoRedis } from "./redis.ts";
import { testOrSkip } from "./skips.ts";

const bytes = (text: string) => Buffer.from(text, "utf8");

/** Every reply in data, fed in the given pieces; then the error, if one was thrown. */
function parse(pieces: Uint8Array[], eof = false): { replies: RespReply[]; error?: string } {
  const parser = new RespParser({ maxBulkBytes: 1000, maxDepth: 4 });
  const replies: RespReply[] = [];
  try {
    for (const piece of [...pieces, ...(eof ? [new Uint8Array(0)] : [])]) {
      parser.receiveData(piece);
      for (let reply = parser.nextReply(); reply !== NEED_DATA; reply = parser.nextReply()) {
        replies.push(reply);
      }
    }
    return { replies };
  } catch (error) {
    assert.instance(error, RespProtocolError);
    return { replies, error: (error as Error).message };
  }
}

/** The same result, however the bytes are split. */
function parseEveryWay(text: string, eof = false): { replies: RespReply[]; error?: string } {
  const data = bytes(text);
  const whole = parse([data], eof);
  assert.equal(
    parse(
      [...data].map((byte) => Uint8Array.of(byte)),
      eof,
    ),
    whole,
    "byte by byte",
  );
  for (let cut = 1; cut < data.length; cut++) {
    assert.equal(parse([data.subarray(0, cut), data.subarray(cut)], eof), whole, `cut at ${cut}`);
  }
  return whole;
}

test("encodeCommand: an array of bulk strings, lengths in bytes", () => {
  assert.is(
    Buffer.from(encodeCommand(["SET", "ключ", 42])).toString(),
    "*3\r\n$3\r\nSET\r\n$8\r\nключ\r\n$2\r\n42\r\n",
  );
  assert.throws(() => encodeCommand([]), /at least the command's name/);
  assert.throws(() => encodeCommand(["GET", Number.NaN]), /an argument is NaN/);
});

test("each type of reply, whole, byte by byte and cut anywhere", () => {
  const { replies, error } = parseEveryWay(
    "+OK\r\n-WRONGTYPE no\r\n:-7\r\n$6\r\nпри\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n" +
      "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n$-1\r\n",
  );
  assert.is(error, undefined);
  assert.is(replies.length, 9);
  assert.is(replies[0], "OK");
  assert.instance(replies[1], RedisError);
  assert.is((replies[1] as RedisError).code, "WRONGTYPE");
  assert.equal(replies.slice(2), [-7, "при", "", null, null, [], [1, ["a", "b"], null]]);
});

test("a reply not all there yet is NEED_DATA, and the next reply's bytes wait their turn", () => {
  const parser = new RespParser();
  parser.receiveData(bytes("*2\r\n$5\r\nhel"));
  assert.is(parser.nextReply(), NEED_DATA);
  parser.receiveData(bytes("lo\r\n:3\r\n+PONG\r\n:"));
  assert.equal(parser.nextReply(), ["hello", 3]);
  assert.is(parser.nextReply(), "PONG");
  assert.is(parser.nextReply(), NEED_DATA);
  parser.receiveData(bytes("9\r\n"));
  assert.is(parser.nextReply(), 9);
});

test("bad bytes fail loudly, quoting them, and the error sticks", () => {
  assert.equal(parseEveryWay("+OK\r\n?what\r\n").error, "unknown reply type: '?what\\r\\n'");
  assert.equal(parseEveryWay(":12x\r\n").error, "bad integer: '12x'");
  assert.equal(
    parseEveryWay("$2\r\nabc\r\n").error,
    "bulk string of 2 bytes not followed by CRLF: 'c\\r'",
  );
  assert.equal(parseEveryWay("$5000\r\n").error, "bulk string of 5000 bytes (at most 1000)");
  assert.equal(parseEveryWay("+a\rb\r\n").error, "CR without LF in '+a\\rb'");
  assert.equal(
    parseEveryWay("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").error,
    "arrays nested deeper than 4",
  );
  assert.equal(
    parseEveryWay("$3\r\nab", true).error,
    "server closed in the middle of a reply (6 bytes of it came)",
  );
  assert.equal(
    parseEveryWay("+OK\r\n", true),
    { replies: ["OK"] },
    "closing between replies is fine",
  );
  const parser = new RespParser();
  parser.receiveData(bytes("!\r\n"));
  assert.throws(() => parser.nextReply(), /unknown reply type/);
  assert.throws(() => parser.nextReply(), /unknown reply type/);
  const long = new RespParser();
  long.receiveData(bytes(`+${"x".repeat(70_000)}`));
  assert.throws(() => long.nextReply(), /line longer than 65536 bytes/);
});

test("redis:// URLs: host and port, or a clear refusal", () => {
  assert.equal(parseRedisUrl("redis://127.0.0.1:7000/"), {
    host: "127.0.0.1",
    port: 7000,
    url: "redis://127.0.0.1:7000/",
  });
  assert.is(parseRedisUrl("redis://localhost").port, 6379);
  assert.throws(() => parseRedisUrl("http://x/"), /not a redis:\/\/ URL/);
  assert.throws(() => parseRedisUrl("redis://:secret@x/"), /AUTH is left out/);
  assert.throws(() => parseRedisUrl("redis://x/3"), /database numbers are left out/);
});

const withRedis = testOrSkip(whyNoRedis);

for (const name of ["scratch", "node"] as const) {
  withRedis(
    `the client against redis-server, on the ${name} engine: pipelined, in order`,
    async () => {
      const redis = await startRedis();
      const engine = createEngine(name);
      try {
        await engine.run(async () => {
          const client = await RedisClient.connect(engine, redis.url, AbortSignal.timeout(5000));
          try {
            // A thousand commands called at once go out together; their replies come in order.
            const replies = await Promise.all(
              Array.from({ length: 1000 }, () => client.call("INCR", "counter")),
            );
            assert.equal(
              replies,
              Array.from({ length: 1000 }, (_, i) => i + 1),
            );
            // A megabyte comes back in many chunks; the parser joins them.
            const big = "ж".repeat(512 * 1024);
            assert.is(await client.call("SET", "big", big), "OK");
            assert.is(await client.call("GET", "big"), big);
            assert.is(await client.call("GET", "missing"), null);
            // An error reply fails its own command only.
            const wrong = client.call("HGET", "big", "field");
            const after = client.call("PING");
            try {
              await wrong;
              assert.unreachable("HGET on a string should fail");
            } catch (error) {
              assert.instance(error, RedisError);
              assert.is((error as RedisError).code, "WRONGTYPE");
            }
            assert.is(await after, "PONG");
            assert.equal(await client.call("EVAL", "return {1, 'two', ARGV[1]}", 0, "три"), [
              1,
              "two",
              "три",
            ]);
          } finally {
            client.close();
          }
          assert.match(await failure(client.call("PING")), /closed/);
        });
      } finally {
        await engine.close();
        await redis.stop();
      }
    },
  );
}

withRedis("a Redis that is not there: connection refused, said once", async () => {
  const redis = await startRedis();
  await redis.stop();
  const engine = createEngine("node");
  try {
    await engine.run(async () => {
      const refused = RedisClient.connect(engine, redis.url, AbortSignal.timeout(5000));
      assert.match(await failure(refused), /ECONNREFUSED|refused/);
    });
  } finally {
    await engine.close();
  }
});

/** The message a promise rejects with; a failed assertion if it fulfils. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  assert.unreachable("it should have failed");
  return "";
}

test.run();
