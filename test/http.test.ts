// Unit tests of the raw-HTTP helper (shared/http.ts). Every response is fed whole, one byte at a
// time, and split in two at every possible point, and must give the same events each time; every
// error must carry its exact message however the input was split.
import { Buffer } from "node:buffer";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  buildRequest,
  NEED_DATA,
  parseResponse,
  PAUSED,
  ProtocolError,
  ResponseParser,
  type ResponseParserOptions,
} from "../shared/http.ts";

const bytes = (text: string) => Buffer.from(text, "latin1");
const text = (data: Uint8Array) => Buffer.from(data).toString("latin1");

/** What a parser made of some input, in a shape that deep-equals can compare. */
interface Outcome {
  events: string[]; // "response" and "end"; runs of data events collapse into one "data"
  httpVersion?: string;
  status?: number;
  reason?: string;
  headers?: [string, string][];
  body: string;
  trailing: string;
  error?: string;
}

/**
 * Feed `chunks` one after another, draining events after each, then EOF if `eof`. Data events
 * are kept and only joined at the end, so a parser that overwrote bytes it had already handed
 * out would be caught here.
 */
function feed(chunks: Uint8Array[], options: ResponseParserOptions = {}, eof = true): Outcome {
  const parser = new ResponseParser(options);
  const outcome: Outcome = { events: [], body: "", trailing: "" };
  const data: Uint8Array[] = [];
  const drain = () => {
    for (let calls = 0; calls < 100_000; calls += 1) {
      const event = parser.nextEvent();
      if (event === NEED_DATA || event === PAUSED) return;
      if (event.type === "data") {
        assert.ok(event.data.length > 0, "a data event is never empty");
        data.push(event.data);
        if (outcome.events.at(-1) !== "data") outcome.events.push("data");
        continue;
      }
      outcome.events.push(event.type);
      if (event.type === "response") {
        outcome.httpVersion = event.httpVersion;
        outcome.status = event.status;
        outcome.reason = event.reason;
        outcome.headers = [...event.headers];
      }
    }
    throw new Error("nextEvent() never returned NEED_DATA or PAUSED");
  };
  try {
    for (const chunk of chunks) {
      parser.receiveData(chunk);
      drain();
    }
    if (eof) {
      parser.receiveData(new Uint8Array(0));
      drain();
    }
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    outcome.error = error.message;
  }
  outcome.body = text(Buffer.concat(data));
  outcome.trailing = text(parser.trailingData);
  return outcome;
}

/**
 * The input whole, one byte at a time, and cut in two at every point (at every 97th point past
 * the first and last 1000 bytes of a long input, so the test stays quick: each cut costs a parse).
 */
function* splits(input: Uint8Array): Generator<[string, Uint8Array[]]> {
  yield ["whole", [input]];
  yield ["byte by byte", [...input].map((byte) => Uint8Array.of(byte))];
  for (let at = 1; at < input.length; at += at < 1000 || at >= input.length - 1000 ? 1 : 97) {
    yield [`split at ${at}`, [input.subarray(0, at), input.subarray(at)]];
  }
}

function expectEverySplit(
  input: string,
  expected: Omit<Outcome, "events" | "trailing"> & { trailing?: string },
  options: ResponseParserOptions = {},
  eof = true,
) {
  const full: Outcome = {
    events: expected.error === undefined ? ["response", "end"] : [],
    trailing: "",
    ...expected,
  };
  if (expected.error === undefined && expected.body !== "") full.events.splice(1, 0, "data");
  for (const [how, chunks] of splits(bytes(input))) {
    const outcome = feed(chunks, options, eof);
    if (expected.error !== undefined) {
      assert.is(outcome.error, expected.error, how);
    } else {
      assert.equal(outcome, full, how);
    }
  }
}

/** A framed response must end without EOF, and keep whatever follows it as trailing data. */
function expectFramed(
  input: string,
  expected: Omit<Outcome, "events" | "trailing">,
  options: ResponseParserOptions = {},
) {
  expectEverySplit(input, expected, options);
  expectEverySplit(input, expected, options, false);
  const next = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  expectEverySplit(input + next, { ...expected, trailing: next }, options);
}

function expectError(input: string, message: string, options: ResponseParserOptions = {}) {
  expectEverySplit(input, { body: "", error: message }, options);
}

// ---- response shapes ------------------------------------------------------------------------

test("Content-Length body", () => {
  expectFramed(
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\nHello, world!",
    {
      httpVersion: "1.1",
      status: 200,
      reason: "OK",
      headers: [
        ["content-type", "text/html"],
        ["content-length", "13"],
      ],
      body: "Hello, world!",
    },
  );
});

test("Content-Length listed twice with the same value", () => {
  expectFramed("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nHello", {
    httpVersion: "1.1",
    status: 200,
    reason: "OK",
    headers: [["content-length", "5, 5, 5"]],
    body: "Hello",
  });
});

test("chunked body with extensions, upper-case hex, leading zeros and trailers", () => {
  const chunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;name=value\r\nHello\r\n" +
    '8 ; x ; y="a b"\r\n, world!\r\n' +
    "00A\r\n0123456789\r\n" +
    "0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n";
  expectFramed(chunked, {
    httpVersion: "1.1",
    status: 200,
    reason: "OK",
    headers: [["transfer-encoding", "chunked"]],
    body: "Hello, world!0123456789",
  });
});

test("chunked wins over Content-Length, and a coding before chunked is passed through", () => {
  expectFramed(
    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    {
      httpVersion: "1.1",
      status: 200,
      reason: "OK",
      headers: [
        ["content-length", "100"],
        ["transfer-encoding", "gzip, Chunked"],
      ],
      body: "abc",
    },
  );
});

test("a body with neither length nor chunked runs until the peer closes", () => {
  const head = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n";
  const expected = {
    httpVersion: "1.0",
    status: 200,
    reason: "OK",
    headers: [["server", "x"]] as [string, string][],
    body: "body until close\r\n\r\nHTTP/1.1 200 OK\r\n",
  };
  expectEverySplit(head + expected.body, expected);
  // Without EOF the body is never over.
  const open = feed([bytes(head + expected.body)], {}, false);
  assert.equal(open.events, ["response", "data"]);
});

test("Transfer-Encoding whose last coding is not chunked runs until the peer closes", () => {
  expectEverySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc", {
    httpVersion: "1.1",
    status: 200,
    reason: "OK",
    headers: [["transfer-encoding", "chunked, gzip"]],
    body: "3\r\nabc",
  });
});

test("the response to HEAD has no body, whatever its headers say", () => {
  expectFramed(
    "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    {
      httpVersion: "1.1",
      status: 200,
      reason: "OK",
      headers: [["content-length", "1234"]],
      body: "",
    },
    { method: "HEAD" },
  );
  // The same bytes after a GET are a body cut short.
  expectError(
    "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    "peer closed after 0 of 1234 body bytes",
  );
});

test("204 and 304 have no body", () => {
  for (const [status, reason] of [
    [204, "No Content"],
    [304, "Not Modified"],
  ] as const) {
    expectFramed(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 5\r\n\r\n`, {
      httpVersion: "1.1",
      status,
      reason,
      headers: [["content-length", "5"]],
      body: "",
    });
  }
});

test("1xx responses are skipped and the real response follows", () => {
  expectFramed(
    "HTTP/1.1 100 Continue\r\n\r\n" +
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    {
      httpVersion: "1.1",
      status: 200,
      reason: "OK",
      headers: [["content-length", "2"]],
      body: "ok",
    },
  );
});

test("empty bodies: Content-Length 0, a lone last chunk, closed at once", () => {
  const expected = (headers: [string, string][]) => ({
    httpVersion: "1.1",
    status: 200,
    reason: "OK",
    headers,
    body: "",
  });
  expectFramed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", expected([["content-length", "0"]]));
  expectFramed(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expected([["transfer-encoding", "chunked"]]),
  );
  expectEverySplit("HTTP/1.1 200 OK\r\n\r\n", expected([]));
});

test("repeated headers are joined with a comma, names lower-cased, OWS trimmed", () => {
  expectFramed(
    "HTTP/1.1 404 Not Found Here\r\nVary: Accept\r\nX-Empty:\r\nvary:\t Cookie \t\r\n" +
      "Set-Cookie: a=1\r\nSET-COOKIE: b=2\r\nX-Latin1: caf\xe9\xa0\r\nContent-Length: 0\r\n\r\n",
    {
      httpVersion: "1.1",
      status: 404,
      reason: "Not Found Here",
      headers: [
        ["vary", "Accept, Cookie"],
        ["x-empty", ""],
        ["set-cookie", "a=1, b=2"],
        ["x-latin1", "caf\xe9\xa0"], // 0xa0 is obs-text, not whitespace to trim
        ["content-length", "0"],
      ],
      body: "",
    },
  );
});

test("obs-fold continuation lines are joined with one space", () => {
  expectFramed(
    "HTTP/1.1 200 OK\r\nX-Folded: first\r\n   second  \r\n\tthird\r\n \r\nX-After: 1\r\nContent-Length: 1\r\n\r\n!",
    {
      httpVersion: "1.1",
      status: 200,
      reason: "OK",
      headers: [
        ["x-folded", "first second third"],
        ["x-after", "1"],
        ["content-length", "1"],
      ],
      body: "!",
    },
  );
});

test("bare LF line endings, in the head and in chunked framing", () => {
  expectFramed("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nHello\n0\nX-Trailer: 1\n\n", {
    httpVersion: "1.1",
    status: 200,
    reason: "OK",
    headers: [["transfer-encoding", "chunked"]],
    body: "Hello",
  });
});

test("status line without a reason, or with an empty one", () => {
  for (const line of ["HTTP/1.1 200", "HTTP/1.1 200 "]) {
    expectFramed(`${line}\r\nContent-Length: 0\r\n\r\n`, {
      httpVersion: "1.1",
      status: 200,
      reason: "",
      headers: [["content-length", "0"]],
      body: "",
    });
  }
});

// ---- streaming ------------------------------------------------------------------------------

test("body bytes come out as soon as they arrive", () => {
  const parser = new ResponseParser();
  assert.is(parser.nextEvent(), NEED_DATA);
  parser.receiveData(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHel"));
  const response = parser.nextEvent();
  assert.ok(typeof response === "object" && response.type === "response");
  const first = parser.nextEvent();
  assert.ok(typeof first === "object" && first.type === "data");
  assert.is(text(first.data), "Hel");
  assert.is(parser.nextEvent(), NEED_DATA);
  assert.is(parser.trailingData.length, 0, "no trailing data before the end");
  parser.receiveData(bytes("lo, world"));
  const second = parser.nextEvent();
  assert.ok(typeof second === "object" && second.type === "data");
  assert.is(text(second.data), "lo, wor");
  assert.equal(parser.nextEvent(), { type: "end" });
  assert.is(text(parser.trailingData), "ld");
});

test("after the end: PAUSED every time, even after EOF, and more bytes join trailingData", () => {
  const parser = new ResponseParser();
  parser.receiveData(bytes("HTTP/1.1 204 No Content\r\n\r\nHTTP"));
  assert.is((parser.nextEvent() as { type: string }).type, "response");
  assert.equal(parser.nextEvent(), { type: "end" });
  assert.is(parser.nextEvent(), PAUSED);
  assert.is(parser.nextEvent(), PAUSED);
  parser.receiveData(bytes("/1.1 200 OK\r\n"));
  assert.is(text(parser.trailingData), "HTTP/1.1 200 OK\r\n");
  parser.receiveData(new Uint8Array(0));
  assert.is(parser.nextEvent(), PAUSED);
});

test("random chunking, fed several chunks before draining, gives the same body", () => {
  let seed = 42;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31; // a fixed LCG, so a failure can be replayed
    return seed % below;
  };
  const body = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(i % 251)).join("");
  const chunked = body
    .match(/[^]{1,700}/g)!
    .map((part) => `${part.length.toString(16)}\r\n${part}\r\n`);
  const inputs = [
    `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked.join("")}0\r\n\r\n`,
    `HTTP/1.0 200 OK\r\n\r\n${body}`,
  ];
  for (const input of inputs) {
    for (let round = 0; round < 20; round += 1) {
      const parser = new ResponseParser();
      const all = bytes(input);
      const data: Uint8Array[] = [];
      for (let at = 0; at < all.length;) {
        const size = 1 + random(round % 2 === 0 ? 8 : 2000);
        parser.receiveData(all.subarray(at, at + size));
        at += size;
        if (random(3) === 0) continue; // let bytes pile up in the parser's own buffer
        for (
          let event = parser.nextEvent();
          typeof event === "object";
          event = parser.nextEvent()
        ) {
          if (event.type === "data") data.push(event.data);
        }
      }
      parser.receiveData(new Uint8Array(0));
      for (let event = parser.nextEvent(); event !== PAUSED; event = parser.nextEvent()) {
        if (event === NEED_DATA) assert.unreachable("NEED_DATA after EOF");
        else if (event.type === "data") data.push(event.data);
      }
      assert.is(text(Buffer.concat(data)), body, `round ${round} of ${input.slice(0, 40)}`);
    }
  }
});

test("a long head fed one byte at a time takes linear time", () => {
  // 4 MiB one byte at a time takes well under a second here. Searching the whole buffer again
  // for each new byte (or copying it again) would be quadratic: over a minute, measured.
  const size = 4 * 1024 * 1024;
  const head = bytes(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(size)}\r\nContent-Length: 0\r\n\r\n`);
  const parser = new ResponseParser({ maxHeaderBytes: 2 * size });
  const deadline = performance.now() + 10_000; // generous, for a slow CI machine
  for (let at = 0; at < head.length - 1; at += 1) {
    parser.receiveData(head.subarray(at, at + 1));
    if (parser.nextEvent() !== NEED_DATA) assert.unreachable(`an event before the head ended`);
    if (at % 4096 === 0 && performance.now() > deadline) {
      assert.unreachable(`still at byte ${at} of ${head.length} after 10 s`);
    }
  }
  parser.receiveData(head.subarray(head.length - 1));
  const response = parser.nextEvent();
  assert.ok(typeof response === "object" && response.type === "response");
  assert.is(response.headers.get("x-big")?.length, size);
});

test("bytes already handed out in a data event are never overwritten", () => {
  // The parser's own buffer holds bytes that arrived together; a data event is a view of it.
  // Whatever its growth policy, reusing that buffer for later input would corrupt the events
  // kept below. Try many sizes for the later input, so some of them hit the buffer's edge.
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (let pad = 0; pad < 600; pad += 7) {
    const parser = new ResponseParser();
    const kept: Uint8Array[] = [];
    const drain = () => {
      for (let event = parser.nextEvent(); typeof event === "object"; event = parser.nextEvent()) {
        if (event.type === "data") kept.push(event.data);
      }
    };
    parser.receiveData(bytes(`${head}6`)); // "64" split: the parser must copy to join them
    drain();
    parser.receiveData(bytes(`4\r\n${"x".repeat(100)}\r\n5`));
    drain(); // hands out the 100 x's, keeps "5" (the start of "50")
    parser.receiveData(bytes(`0\r\n${"y".repeat(80)}\r\n0\r\nX-Pad: ${"p".repeat(pad)}\r\n\r\n`));
    drain();
    assert.equal(kept.map(text), ["x".repeat(100), "y".repeat(80)], `pad ${pad}`);
  }
});

test("no input crashes the parser or makes it spin", () => {
  let seed = 7;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % below;
  };
  const samples = [
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: a\r\n b\r\n\r\n5;e\r\nHello\r\n0\r\nT: 1\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nHello",
  ];
  const alphabet = "\r\n :;0159aAfFzZ\t\x00\xff,-HTTP/1.";
  for (let round = 0; round < 3000; round += 1) {
    const input = [...samples[round % samples.length]!];
    for (let edits = 1 + random(4); edits > 0; edits -= 1) {
      const at = random(input.length);
      const char = alphabet[random(alphabet.length)]!;
      if (random(3) === 0) input.splice(at, 1);
      else if (random(2) === 0) input.splice(at, 0, char);
      else input[at] = char;
    }
    const all = bytes(input.join(""));
    const cut = random(all.length);
    const options = { method: random(5) === 0 ? "HEAD" : "GET", maxHeaderBytes: 16 + random(200) };
    const outcome = feed([all.subarray(0, cut), all.subarray(cut)], options, random(2) === 0);
    // Whatever happened, it ended: feed() throws on anything but a ProtocolError or a spin.
    assert.type(outcome.body, "string");
  }
});

// ---- errors ---------------------------------------------------------------------------------

test("bad status lines are quoted, escaped and cut", () => {
  expectError("HTTP/1.1 2OO OK\r\n\r\n", "bad status line: 'HTTP/1.1 2OO OK'");
  expectError("<html>\n", "bad status line: '<html>'");
  expectError("HTTP/1.1 2000 OK\r\n", "bad status line: 'HTTP/1.1 2000 OK'");
  expectError("HTTP/1.1  200 OK\r\n", "bad status line: 'HTTP/1.1  200 OK'");
  expectError("http/1.1 200 OK\r\n", "bad status line: 'http/1.1 200 OK'");
  expectError("HTTP/1.1 200 O\x00K\r\r\n", "bad status line: 'HTTP/1.1 200 O\\x00K\\r'");
  expectError("HTTP/1.1 2OO 'é\\\r\n", "bad status line: 'HTTP/1.1 2OO \\'\\xe9\\\\'");
  expectError(`${"A".repeat(100)}\r\n`, `bad status line: '${"A".repeat(60)}'... (100 bytes)`);
  expectError("HTTP/2.0 200 OK\r\n", "unsupported HTTP version: 'HTTP/2.0 200 OK'");
  expectError(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    "unexpected 101 Switching Protocols: 'HTTP/1.1 101 Switching Protocols'",
  );
});

test("bad header lines", () => {
  const head = "HTTP/1.1 200 OK\r\n";
  expectError(`${head}NoColon\r\n\r\n`, "bad header line: 'NoColon'");
  expectError(`${head}Bad Name: x\r\n\r\n`, "bad header line: 'Bad Name: x'");
  expectError(`${head}Name : x\r\n\r\n`, "bad header line: 'Name : x'");
  expectError(`${head}: x\r\n\r\n`, "bad header line: ': x'");
  expectError(`${head}X: a\x01b\r\n\r\n`, "bad header line: 'X: a\\x01b'");
  expectError(`${head}X: a\rb\r\n\r\n`, "bad header line: 'X: a\\rb'");
  expectError(`${head}X: a\r\n b\x00\r\n\r\n`, "bad header line: ' b\\x00'");
  expectError(`${head} folded\r\n\r\n`, "continuation line before the first header: ' folded'");
});

test("the header cap: a head of exactly maxHeaderBytes passes, one byte more fails", () => {
  const head = "HTTP/1.1 200 OK\r\nX: 12345\r\n\r\n"; // 29 bytes
  assert.is(head.length, 29);
  expectFramed(
    head,
    { httpVersion: "1.1", status: 200, reason: "OK", headers: [["x", "12345"]], body: "" },
    { method: "HEAD", maxHeaderBytes: 29 },
  );
  expectError(head, "headers exceed 28 bytes", { maxHeaderBytes: 28 });
  expectError("HTTP/1.1 200 OK\r\n" + "X: y\r\n".repeat(200), "headers exceed 1000 bytes", {
    maxHeaderBytes: 1000,
  });
  expectError(
    `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70000)}\r\n\r\n`,
    "headers exceed 65536 bytes",
  );
  expectError(`HTTP/1.1 200 OK${" ".repeat(70000)}`, "headers exceed 65536 bytes");
  // Interim 1xx heads count too, so a server cannot keep us reading them forever.
  expectError("HTTP/1.1 100 Continue\r\n\r\n".repeat(5), "headers exceed 100 bytes", {
    maxHeaderBytes: 100,
  });
});

test("peer closed before or during the head", () => {
  expectError("", "peer closed before sending a response");
  expectError(
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",
    "peer closed in the middle of the headers (37 bytes)",
  );
  expectError("HTTP/1.1 200 OK\r\n\r", "peer closed in the middle of the headers (18 bytes)");
  expectError(
    "HTTP/1.1 100 Continue\r\n\r\n",
    "peer closed in the middle of the headers (25 bytes)",
  );
});

test("peer closed in the middle of the body", () => {
  const body = "x".repeat(512);
  expectError(
    `HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n${body}`,
    "peer closed after 512 of 2048 body bytes",
  );
  const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const closed = (received: number) =>
    `peer closed in the middle of a chunked body (${received} body bytes received)`;
  expectError(`${chunked}`, closed(0));
  expectError(`${chunked}5\r\nHel`, closed(3));
  expectError(`${chunked}5\r\nHello`, closed(5));
  expectError(`${chunked}5\r\nHello\r`, closed(5));
  expectError(`${chunked}5\r\nHello\r\n0\r\n`, closed(5));
  expectError(`${chunked}5\r\nHello\r\n0\r\nX-Trailer: 1\r\n`, closed(5));
});

test("bad Content-Length", () => {
  const head = "HTTP/1.1 200 OK\r\n";
  expectError(`${head}Content-Length: abc\r\n\r\n`, "bad Content-Length: 'abc'");
  expectError(`${head}Content-Length: -1\r\n\r\n`, "bad Content-Length: '-1'");
  expectError(`${head}Content-Length: 5,\r\n\r\n`, "bad Content-Length: '5,'");
  expectError(`${head}Content-Length: 0x10\r\n\r\n`, "bad Content-Length: '0x10'");
  expectError(`${head}Content-Length: 5, 6\r\n\r\n`, "conflicting Content-Length values: '5, 6'");
  expectError(
    `${head}Content-Length: 5\r\nContent-Length: 7\r\n\r\n`,
    "conflicting Content-Length values: '5, 7'",
  );
  expectError(
    `${head}Content-Length: 99999999999999999999\r\n\r\n`,
    "Content-Length too large: '99999999999999999999'",
  );
});

test("bad chunked framing", () => {
  const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  expectError(`${head}zz\r\n`, "bad chunk size: 'zz'");
  expectError(`${head}\r\n`, "bad chunk size: ''");
  expectError(`${head}-5\r\n`, "bad chunk size: '-5'");
  expectError(`${head}5 x\r\n`, "bad chunk size: '5 x'");
  expectError(`${head}5;\x01\r\n`, "bad chunk size: '5;\\x01'");
  expectError(`${head}ffffffffffffffff\r\n`, "chunk size too large: 'ffffffffffffffff'");
  expectError(`${head}5\r\nHelloX\r\n`, "expected CRLF after chunk data, got 'X'");
  expectError(`${head}5\r\nHello\rX\r\n`, "expected CRLF after chunk data, got '\\rX'");
  expectError(`${head}${"0".repeat(100)}`, "chunk size line exceeds 80 bytes", {
    maxHeaderBytes: 80,
  });
  expectError(`${head}0\r\n${"X: y\r\n".repeat(20)}\r\n`, "trailers exceed 80 bytes", {
    maxHeaderBytes: 80,
  });
});

test("an error is sticky: every later call throws the same error", () => {
  const parser = new ResponseParser();
  parser.receiveData(bytes("HTTP/1.1 2OO OK\r\n"));
  let first: unknown;
  try {
    parser.nextEvent();
  } catch (error) {
    first = error;
  }
  assert.instance(first, ProtocolError);
  assert.is((first as Error).name, "ProtocolError");
  parser.receiveData(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  for (const _ of [1, 2])
    assert.throws(
      () => parser.nextEvent(),
      (error: unknown) => error === first,
    );
  parser.receiveData(new Uint8Array(0));
  assert.throws(
    () => parser.nextEvent(),
    (error: unknown) => error === first,
  );
  assert.is(parser.trailingData.length, 0);
});

test("misuse of the parser is a plain error, not a ProtocolError", () => {
  const parser = new ResponseParser();
  parser.receiveData(new Uint8Array(0));
  parser.receiveData(new Uint8Array(0)); // EOF twice is harmless
  assert.throws(
    () => parser.receiveData(bytes("late")),
    (error: unknown) => !(error instanceof ProtocolError) && /after EOF/.test(String(error)),
  );
  assert.throws(
    () => parser.receiveData("HTTP" as unknown as Uint8Array),
    (error: unknown) => error instanceof TypeError,
  );
  assert.throws(
    () => new ResponseParser({ maxHeaderBytes: 0 }),
    (error: unknown) => error instanceof RangeError,
  );
});

// ---- parseResponse --------------------------------------------------------------------------

test("parseResponse returns the whole response", () => {
  const response = parseResponse(
    bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
  );
  assert.is(response.httpVersion, "1.1");
  assert.is(response.status, 200);
  assert.is(response.reason, "OK");
  assert.equal([...response.headers], [["transfer-encoding", "chunked"]]);
  assert.ok(Buffer.isBuffer(response.body));
  assert.is(response.body.toString(), "abcde");
  const head = parseResponse(bytes("HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\n"), {
    method: "HEAD",
  });
  assert.is(head.body.length, 0);
  assert.is(parseResponse(bytes("HTTP/1.0 404 Not Found\r\n\r\nno")).body.toString(), "no");
});

test("parseResponse refuses a cut response and bytes after a framed one", () => {
  const refuses = (input: string, message: string) =>
    assert.throws(
      () => parseResponse(bytes(input)),
      (error: unknown) => error instanceof ProtocolError && error.message === message,
      message,
    );
  refuses("", "peer closed before sending a response");
  refuses("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "peer closed after 2 of 5 body bytes");
  refuses(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1",
    "8 bytes after the end of the response: 'HTTP/1.1'",
  );
});

// ---- buildRequest ---------------------------------------------------------------------------

test("buildRequest writes the lecture's request by default", () => {
  const request = (target: string | URL, options?: Parameters<typeof buildRequest>[1]) =>
    text(buildRequest(target, options));
  assert.is(
    request("http://abcd.com/wiki/Page"),
    "GET /wiki/Page HTTP/1.0\r\nHost: abcd.com\r\n\r\n",
  );
  assert.is(request("http://abcd.com"), "GET / HTTP/1.0\r\nHost: abcd.com\r\n\r\n");
  assert.is(request(new URL("http://ABCD.com:80/")), "GET / HTTP/1.0\r\nHost: abcd.com\r\n\r\n");
  assert.is(
    request("http://127.0.0.1:8080/a/b?q=1&r=%20#section"),
    "GET /a/b?q=1&r=%20 HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
  );
  assert.is(request("http://[::1]:8080/"), "GET / HTTP/1.0\r\nHost: [::1]:8080\r\n\r\n");
  assert.is(
    request("http://abcd.com/вики page"),
    "GET /%D0%B2%D0%B8%D0%BA%D0%B8%20page HTTP/1.0\r\nHost: abcd.com\r\n\r\n",
  );
  assert.is(
    request("http://abcd.com/x", {
      method: "HEAD",
      httpVersion: "1.1",
      headers: { "User-Agent": "lesson/1", Accept: "*/*", Connection: "close" },
    }),
    "HEAD /x HTTP/1.1\r\nHost: abcd.com\r\nUser-Agent: lesson/1\r\nAccept: */*\r\nConnection: close\r\n\r\n",
  );
  assert.is(
    request("http://127.0.0.1:8080/", { headers: { Accept: "*/*", host: "wiki.test" } }),
    "GET / HTTP/1.0\r\nHost: wiki.test\r\nAccept: */*\r\n\r\n",
  );
});

test("buildRequest refuses other schemes and anything that could smuggle a header", () => {
  const refuses = (build: () => unknown, message: string) => {
    try {
      build();
    } catch (error) {
      assert.instance(error, TypeError);
      assert.is((error as Error).message, message);
      return;
    }
    assert.unreachable(`no error, wanted: ${message}`);
  };
  refuses(
    () => buildRequest("https://abcd.com/"),
    "only http: URLs are supported (no TLS here), got 'https://abcd.com/'",
  );
  refuses(
    () => buildRequest(new URL("ftp://abcd.com/")),
    "only http: URLs are supported (no TLS here), got 'ftp://abcd.com/'",
  );
  assert.throws(
    () => buildRequest("abcd.com/page"),
    (error: unknown) => error instanceof TypeError,
  );
  refuses(
    () => buildRequest("http://abcd.com/x\r\nX-Evil: 1"),
    "CR, LF or NUL in URL: 'http://abcd.com/x\\r\\nX-Evil: 1'",
  );
  refuses(
    () => buildRequest("http://abcd.com/\0"),
    "CR, LF or NUL in URL: 'http://abcd.com/\\x00'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { method: "GET / HTTP/1.1\r\n" }),
    "bad method: 'GET / HTTP/1.1\\r\\n'",
  );
  refuses(() => buildRequest("http://abcd.com/", { method: "" }), "bad method: ''");
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X-A\r\nX-Evil": "1" } }),
    "bad header name: 'X-A\\r\\nX-Evil'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X A": "1" } }),
    "bad header name: 'X A'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X:": "1" } }),
    "bad header name: 'X:'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X-A": "1\r\nX-Evil: 2" } }),
    "bad value for header X-A: '1\\r\\nX-Evil: 2'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X-A": "a\nb" } }),
    "bad value for header X-A: 'a\\nb'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X-A": "a\0b" } }),
    "bad value for header X-A: 'a\\x00b'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { headers: { "X-A": "вики" } }),
    "bad value for header X-A: 'вики'",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { httpVersion: "2.0" as "1.1" }),
    `httpVersion must be "1.0" or "1.1", got '2.0'`,
  );
});

test.run();
