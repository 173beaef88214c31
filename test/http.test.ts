// Unit tests of the raw-HTTP helper (shared/http.ts). Every message, request or response, is fed
// whole, one byte at a time, and split in two at every possible point, and must give the same
// events each time; every error must carry its exact message however the input was split. Parsers
// run through several messages on one connection the way a server or a keep-alive client does.
import { Buffer } from "node:buffer";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  buildRequest,
  buildResponse,
  NEED_DATA,
  parseResponse,
  PAUSED,
  ProtocolError,
  RequestParser,
  type RequestParserOptions,
  ResponseParser,
  type ResponseParserOptions,
} from "../shared/http.ts";

const bytes = (text: string) => Buffer.from(text, "latin1");
const text = (data: Uint8Array) => Buffer.from(data).toString("latin1");

/** One message as a parser gave it: its head event (headers as pairs), body, and mustClose. */
interface Message {
  head: Record<string, unknown>;
  body: string;
  mustClose: boolean; // read at its end event
}

/** What a parser made of a connection's bytes, in a shape that deep-equals can compare. */
interface Conversation {
  events: string[]; // "request"/"response" and "end"; runs of data events collapse into one "data"
  messages: Message[];
  trailing: string;
  error?: string;
  statusHint?: number;
}

/**
 * Feed `chunks` one after another, draining events after each, then EOF if `eof`. After each end
 * it starts the next cycle as a server or a keep-alive client would: a RequestParser whenever the
 * connection may stay open, a ResponseParser with the next of `methods` (those of the requests
 * sent after the first) while there is one. Data events are kept and only joined at the end, so
 * a parser that overwrote bytes it had already handed out would be caught here.
 */
function converse(
  parser: RequestParser | ResponseParser,
  chunks: Uint8Array[],
  eof = true,
  methods: string[] = [],
): Conversation {
  const outcome: Conversation = { events: [], messages: [], trailing: "" };
  const bodies: Uint8Array[][] = [];
  let cycles = 0;
  const drain = () => {
    for (let calls = 0; calls < 100_000; calls += 1) {
      const event = parser.nextEvent();
      if (event === NEED_DATA) return;
      if (event === PAUSED) {
        if (parser.mustClose) return;
        if (parser instanceof RequestParser) parser.startNextCycle();
        else if (cycles < methods.length) parser.startNextCycle(methods[cycles++]);
        else return;
        continue;
      }
      if (event.type === "data") {
        assert.ok(event.data.length > 0, "a data event is never empty");
        bodies.at(-1)!.push(event.data);
        if (outcome.events.at(-1) !== "data") outcome.events.push("data");
        continue;
      }
      outcome.events.push(event.type);
      if (event.type === "end") {
        outcome.messages.at(-1)!.mustClose = parser.mustClose;
      } else {
        const { type: _, headers, ...head } = event;
        outcome.messages.push({
          head: { ...head, headers: [...headers] },
          body: "",
          mustClose: false,
        });
        bodies.push([]);
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
    outcome.statusHint = error.statusHint;
  }
  outcome.messages.forEach((message, i) => (message.body = text(Buffer.concat(bodies[i]!))));
  outcome.trailing = text(parser.trailingData);
  return outcome;
}

/** The response tests' view of a conversation: the first response, flattened. */
interface Outcome {
  events: string[];
  httpVersion?: string;
  status?: number;
  reason?: string;
  headers?: [string, string][];
  body: string;
  trailing: string;
  error?: string;
}

function feed(chunks: Uint8Array[], options: ResponseParserOptions = {}, eof = true): Outcome {
  const { events, messages, trailing, error } = converse(new ResponseParser(options), chunks, eof);
  const [first] = messages;
  const outcome: Outcome = { events, ...first?.head, body: first?.body ?? "", trailing };
  if (error !== undefined) outcome.error = error;
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
  // Responses, and pipelined requests and keep-alive responses that take several cycles.
  const samples: [string, "request" | "response"][] = [
    [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: a\r\n b\r\n\r\n5;e\r\nHello\r\n0\r\nT: 1\r\n\r\n",
      "response",
    ],
    [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nHello",
      "response",
    ],
    [
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest",
      "response",
    ],
    [
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\r\nPOST /p HTTP/1.1\r\nHost: x\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "request",
    ],
  ];
  const alphabet = "\r\n :;0159aAfFzZ\t\x00\xff,-HTTP/1.";
  for (let round = 0; round < 4000; round += 1) {
    const [sample, kind] = samples[round % samples.length]!;
    const input = [...sample];
    for (let edits = 1 + random(4); edits > 0; edits -= 1) {
      const at = random(input.length);
      const char = alphabet[random(alphabet.length)]!;
      if (random(3) === 0) input.splice(at, 1);
      else if (random(2) === 0) input.splice(at, 0, char);
      else input[at] = char;
    }
    const all = bytes(input.join(""));
    const cut = random(all.length);
    const caps = { maxHeaderBytes: 16 + random(200), maxBodyBytes: random(2) === 0 ? 4 : Infinity };
    const method = random(5) === 0 ? "HEAD" : "GET";
    const parser =
      kind === "request" ? new RequestParser(caps) : new ResponseParser({ ...caps, method });
    const chunks = [all.subarray(0, cut), all.subarray(cut)].filter((chunk) => chunk.length > 0);
    const outcome = converse(parser, chunks, random(2) === 0, ["HEAD", "GET"]);
    // Whatever happened, it ended: converse() throws on anything but a ProtocolError or a spin.
    assert.type(outcome.trailing, "string");
    if (outcome.error !== undefined) assert.ok(parser.mustClose, "an error means close");
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
  assert.throws(
    () => new ResponseParser({ method: 5 as unknown as string }),
    (error: unknown) => error instanceof TypeError && error.message === "bad method: '5'",
  );
  assert.throws(
    () => new RequestParser(null as unknown as RequestParserOptions),
    (error: unknown) => error instanceof TypeError,
  );
  for (const maxBodyBytes of [-1, 1.5, NaN]) {
    assert.throws(
      () => new RequestParser({ maxBodyBytes }),
      (error: unknown) => error instanceof RangeError,
    );
  }
});

// ---- requests: the server's side ------------------------------------------------------------

type Parser = RequestParser | ResponseParser;

/** How a message differs from the usual: HTTP/1.1, no body, kept alive. */
interface Unusual {
  httpVersion?: string;
  body?: string;
  mustClose?: boolean;
}

function message(head: Record<string, unknown>, unusual: Unusual): Message {
  const { httpVersion = "1.1", body = "", mustClose = false } = unusual;
  return { head: { ...head, httpVersion }, body, mustClose };
}

/** A request as RequestParser gives it. */
function request(method: string, target: string, headers: [string, string][], unusual = {}) {
  return message({ method, target, headers }, unusual);
}

/** A response as ResponseParser gives it. */
function response(status: number, reason: string, headers: [string, string][], unusual = {}) {
  return message({ status, reason, headers }, unusual);
}

/** Every split of `input` gives exactly `expected`, with `trailing` left over. */
function expectMessages(
  make: () => Parser,
  input: string,
  expected: Message[],
  { trailing = "", methods = [] as string[], eof = true } = {},
) {
  const type = make() instanceof RequestParser ? "request" : "response";
  const events = expected.flatMap(({ body }) =>
    body === "" ? [type, "end"] : [type, "data", "end"],
  );
  for (const [how, chunks] of splits(bytes(input))) {
    const outcome = converse(make(), chunks, eof, methods);
    assert.equal(outcome, { events, messages: expected, trailing }, how);
  }
}

const NEXT_REQUEST = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";

/**
 * Requests read from every split, with and without EOF after them, and with the next request
 * right behind them: read in its turn, or left unread if the connection must close.
 */
function expectRequests(input: string, expected: Message[], options: RequestParserOptions = {}) {
  const make = () => new RequestParser(options);
  expectMessages(make, input, expected);
  expectMessages(make, input, expected, { eof: false });
  if (expected.at(-1)!.mustClose) {
    expectMessages(make, input + NEXT_REQUEST, expected, { trailing: NEXT_REQUEST });
  } else {
    const next = request("GET", "/next", [["host", "x"]]);
    expectMessages(make, input + NEXT_REQUEST, [...expected, next]);
  }
}

const NEXT_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

/** The same for responses, with `methods` the methods of the requests after the first. */
function expectResponses(input: string, expected: Message[], methods: string[] = []) {
  const make = () => new ResponseParser();
  expectMessages(make, input, expected, { methods });
  if (expected.at(-1)!.mustClose) {
    expectMessages(make, input + NEXT_RESPONSE, expected, { methods, trailing: NEXT_RESPONSE });
  } else {
    const next = response(200, "OK", [["content-length", "2"]], { body: "hi" });
    expectMessages(make, input + NEXT_RESPONSE, [...expected, next], {
      methods: [...methods, "GET"],
    });
  }
}

function expectRequestError(
  input: string,
  message: string,
  statusHint: number,
  options: RequestParserOptions = {},
) {
  for (const [how, chunks] of splits(bytes(input))) {
    const outcome = converse(new RequestParser(options), chunks);
    assert.is(outcome.error, message, how);
    assert.is(outcome.statusHint, statusHint, `${how}: ${message}`);
  }
}

test("a GET with no body, as curl and wrk send it, and as buildRequest writes it", () => {
  expectRequests(
    "GET /wiki/Page?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    [
      request("GET", "/wiki/Page?q=1", [
        ["host", "127.0.0.1:8080"],
        ["user-agent", "curl/8.5.0"],
        ["accept", "*/*"],
      ]),
    ],
  );
  const built = buildRequest("http://abcd.com/x?y", { httpVersion: "1.1", headers: { A: "b" } });
  expectRequests(text(built), [
    request("GET", "/x?y", [
      ["host", "abcd.com"],
      ["a", "b"],
    ]),
  ]);
});

test("a body framed by Content-Length, on POST and on GET alike", () => {
  expectRequests(
    "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2",
    [
      request(
        "POST",
        "/form",
        [
          ["host", "x"],
          ["content-type", "application/x-www-form-urlencoded"],
          ["content-length", "7"],
        ],
        { body: "a=1&b=2" },
      ),
    ],
  );
  // A body on GET has no meaning, but it is framed all the same: the server may ignore it, and
  // the request after it is still found where it starts.
  expectRequests("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nGET ", [
    request(
      "GET",
      "/",
      [
        ["host", "x"],
        ["content-length", "4, 4"],
      ],
      { body: "GET " },
    ),
  ]);
  expectRequests("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", [
    request("POST", "/", [
      ["host", "x"],
      ["content-length", "0"],
    ]),
  ]);
});

test("a request with neither length nor chunked has no body: the next request follows it", () => {
  // A response like this would run until the peer closes; a request never does (RFC 9112 6.3).
  expectRequests("POST /empty HTTP/1.1\r\nHost: x\r\n\r\n", [
    request("POST", "/empty", [["host", "x"]]),
  ]);
});

test("a chunked request body, with extensions, trailers and bare LFs", () => {
  expectRequests(
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n" +
      "5;name=value\r\nHello\r\n1\n,\n0\r\nX-Checksum: 1\r\n\r\n",
    [
      request(
        "POST",
        "/upload",
        [
          ["host", "x"],
          ["transfer-encoding", "Chunked"],
        ],
        { body: "Hello," },
      ),
    ],
  );
});

test("every form of request-target, any method token, and HTTP/1.0 without Host", () => {
  const host = (value: string): [string, string][] => [["host", value]];
  expectRequests("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n", [
    request("GET", "http://example.com/a?b", host("example.com")),
  ]);
  expectRequests("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", [
    request("CONNECT", "example.com:443", host("example.com:443")),
  ]);
  expectRequests("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", [request("OPTIONS", "*", host("x"))]);
  expectRequests("PURGE /%D0%B2?a=%20 HTTP/1.1\r\nHost: x\r\n\r\n", [
    request("PURGE", "/%D0%B2?a=%20", host("x")),
  ]);
  expectRequests("get / HTTP/1.1\r\nHost: x\r\n\r\n", [request("get", "/", host("x"))]);
  // HTTP/1.0 needs no Host, and closes after its response unless it asks to keep alive.
  expectRequests("GET / HTTP/1.0\r\n\r\n", [
    request("GET", "/", [], { httpVersion: "1.0", mustClose: true }),
  ]);
  // A later 1.x minor version is read as 1.1 (RFC 9110 2.5).
  expectRequests("GET / HTTP/1.2\r\nHost: x\r\n\r\n", [
    request("GET", "/", host("x"), { httpVersion: "1.2" }),
  ]);
  // An empty Host is allowed: the target may have no authority.
  expectRequests("GET / HTTP/1.1\r\nHost:\r\n\r\n", [request("GET", "/", host(""))]);
});

test("empty lines before a request line are skipped; obs-fold and repeated fields as in responses", () => {
  expectRequests("\r\n\n\r\nGET / HTTP/1.1\nHost: x\nAccept: a\n  b\naccept: c\n\n", [
    request("GET", "/", [
      ["host", "x"],
      ["accept", "a b, c"],
    ]),
  ]);
});

// ---- keep-alive: the next message on the same connection ------------------------------------

test("keep-alive is decided from the version and the Connection tokens, for both roles", () => {
  const cases: [string, string | null, boolean][] = [
    ["1.1", null, false],
    ["1.1", "close", true],
    ["1.1", "Close", true],
    ["1.1", "keep-alive, CLOSE", true],
    ["1.1", "upgrade ,\tclose", true],
    ["1.1", "keep-alive", false],
    ["1.1", "closed, x-close", false], // tokens, not substrings
    ["1.0", null, true],
    ["1.0", "keep-alive", false],
    ["1.0", "Keep-Alive", false],
    ["1.0", "foo,keep-alive", false],
    ["1.0", "keep-alive, close", true],
    ["1.0", "keep-alives", true],
  ];
  for (const [httpVersion, connection, mustClose] of cases) {
    const field = connection === null ? "" : `Connection: ${connection}\r\n`;
    const fields: [string, string][] = connection === null ? [] : [["connection", connection]];
    expectRequests(`GET / HTTP/${httpVersion}\r\nHost: x\r\n${field}\r\n`, [
      request("GET", "/", [["host", "x"], ...fields], { httpVersion, mustClose }),
    ]);
    expectResponses(`HTTP/${httpVersion} 200 OK\r\nContent-Length: 0\r\n${field}\r\n`, [
      response(200, "OK", [["content-length", "0"], ...fields], { httpVersion, mustClose }),
    ]);
  }
  // Two Connection fields are one list.
  expectRequests(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nconnection: close\r\n\r\n",
    [
      request(
        "GET",
        "/",
        [
          ["host", "x"],
          ["connection", "keep-alive, close"],
        ],
        { mustClose: true },
      ),
    ],
  );
});

test("pipelined requests are answered in order, and the client reads the answers in order", () => {
  const requests = [
    text(buildRequest("http://x/a", { httpVersion: "1.1" })),
    text(buildRequest("http://x/b", { httpVersion: "1.1", method: "HEAD" })),
    "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    "\r\nPOST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n",
    text(buildRequest("http://x/e", { httpVersion: "1.1", headers: { Connection: "close" } })),
    text(buildRequest("http://x/never", { httpVersion: "1.1" })), // after close: never read
  ];
  const all = bytes(requests.join(""));
  for (const [how, chunks] of splits(all)) {
    // The server: answer each request when it ends, then read the next, as a server loop does.
    const parser = new RequestParser();
    const replies: Uint8Array[] = [];
    let head: { method: string; target: string; httpVersion: string } | undefined;
    let body = "";
    for (const chunk of chunks) {
      parser.receiveData(chunk);
      for (let event = parser.nextEvent(); event !== NEED_DATA; event = parser.nextEvent()) {
        if (event === PAUSED) {
          if (parser.mustClose) break;
          parser.startNextCycle();
        } else if (event.type === "request") {
          [head, body] = [event, ""];
        } else if (event.type === "data") {
          body += text(event.data);
        } else {
          const answer = `${head!.method} ${head!.target} ${body}`;
          replies.push(
            buildResponse(200, { body: answer, request: head, close: parser.mustClose }),
          );
        }
      }
    }
    // The client: one ResponseParser for the whole connection, given each request's method.
    const outcome = converse(new ResponseParser(), replies, true, ["HEAD", "POST", "POST", "GET"]);
    const bodies = outcome.messages.map((message) => message.body);
    assert.equal(bodies, ["GET /a ", "", "POST /c abc", "POST /d de", "GET /e "], how);
    const closes = outcome.messages.map((message) => message.mustClose);
    assert.equal(closes, [false, false, false, false, true], how);
    assert.is(text(parser.trailingData), requests.at(-1), how);
  }
});

test("a client that closes: no error between requests, and pipelined requests still answered", () => {
  for (const input of ["", "\r\n", "\r\n\r\n"]) {
    const parser = new RequestParser();
    parser.receiveData(bytes(input));
    parser.receiveData(new Uint8Array(0));
    assert.is(parser.nextEvent(), PAUSED);
    assert.is(parser.nextEvent(), PAUSED);
    assert.ok(parser.mustClose);
  }
  // Sent, then half-closed (as `printf ... | nc` does): both are read before mustClose says so.
  const parser = new RequestParser();
  parser.receiveData(bytes(`GET /1 HTTP/1.1\r\nHost: x\r\n\r\n${NEXT_REQUEST}`));
  parser.receiveData(new Uint8Array(0));
  const ends: boolean[] = [];
  for (let event = parser.nextEvent(); event !== PAUSED; event = parser.nextEvent()) {
    if (event === NEED_DATA) throw new Error("NEED_DATA after EOF");
    if (event.type !== "end") continue;
    ends.push(parser.mustClose);
    if (!parser.mustClose) parser.startNextCycle();
  }
  assert.equal(ends, [false, true]);
  // Closed with a request under way: that one is cut short.
  expectRequestError(
    "GET / HTTP/1.1\r\nHost: x\r\n",
    "peer closed in the middle of the headers (25 bytes)",
    400,
  );
  expectRequestError(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
    "peer closed after 2 of 5 body bytes",
    400,
  );
});

test("the next response: the method decides whether it has a body", () => {
  const responses =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" +
    "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n";
  const length = ["content-length", "5"] as [string, string];
  expectResponses(
    responses,
    [
      response(200, "OK", [length], { body: "hello" }),
      response(200, "OK", [length]),
      response(404, "Not Found", [["transfer-encoding", "chunked"]], { body: "no" }),
    ],
    ["HEAD", "GET"],
  );
  // Read as the answer to a GET, the second response takes the next one's first bytes as its body.
  const outcome = converse(new ResponseParser(), [bytes(responses)], true, ["GET", "GET"]);
  assert.is(outcome.messages[1]?.body, "HTTP/");
  assert.is(outcome.error, "bad status line: '1.1 404 Not Found'");
});

test("stray empty lines between responses are skipped, and a 1xx may come first", () => {
  expectResponses(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\n\r\n\n" +
      "HTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    [
      response(200, "OK", [["content-length", "2"]], { body: "ok" }),
      response(204, "No Content", []),
    ],
    ["POST"],
  );
});

test("the connection must close after a close-delimited body, Connection: close or HTTP/1.0", () => {
  // The body runs until the peer closes, so nothing can follow it.
  expectMessages(() => new ResponseParser(), "HTTP/1.1 200 OK\r\n\r\nabc", [
    response(200, "OK", [], { body: "abc", mustClose: true }),
  ]);
  expectMessages(
    () => new ResponseParser(),
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: keep-alive\r\n\r\nabc",
    [
      response(
        200,
        "OK",
        [
          ["transfer-encoding", "gzip"],
          ["connection", "keep-alive"],
        ],
        { body: "abc", mustClose: true },
      ),
    ],
  );
  expectResponses("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", [
    response(
      200,
      "OK",
      [
        ["connection", "close"],
        ["content-length", "1"],
      ],
      { body: "x", mustClose: true },
    ),
  ]);
  expectResponses("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", [
    response(200, "OK", [["content-length", "1"]], {
      httpVersion: "1.0",
      body: "x",
      mustClose: true,
    }),
  ]);
});

test("startNextCycle only after the end, and never when the connection must close", () => {
  const early = /before the end of the message/;
  const closing = /on a connection that must close/;
  const parser = new ResponseParser();
  assert.throws(() => parser.startNextCycle(), early);
  parser.receiveData(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no"));
  assert.is((parser.nextEvent() as { type: string }).type, "response");
  assert.is((parser.nextEvent() as { type: string }).type, "data");
  assert.not.ok(parser.mustClose);
  assert.throws(() => parser.startNextCycle(), early);
  parser.receiveData(bytes("k"));
  assert.is((parser.nextEvent() as { type: string }).type, "data");
  assert.equal(parser.nextEvent(), { type: "end" });
  assert.throws(
    () => parser.startNextCycle(5 as unknown as string),
    (error: unknown) => error instanceof TypeError,
  );
  parser.startNextCycle("HEAD");
  assert.is(parser.nextEvent(), NEED_DATA);
  // The server closes the idle connection before answering: the request was never read, so a
  // client may send it again on a new connection.
  parser.receiveData(new Uint8Array(0));
  assert.ok(parser.mustClose);
  assert.throws(() => parser.nextEvent(), /^peer closed before sending a response$/);

  // A server idle between responses closes: the client sees mustClose before its next request.
  const idle = new ResponseParser();
  idle.receiveData(bytes("HTTP/1.1 204 No Content\r\n\r\n"));
  while (idle.nextEvent() !== PAUSED);
  assert.not.ok(idle.mustClose);
  idle.receiveData(new Uint8Array(0));
  assert.ok(idle.mustClose);
  assert.throws(() => idle.startNextCycle(), closing);

  const server = new RequestParser();
  server.receiveData(bytes("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  while (server.nextEvent() !== PAUSED);
  assert.throws(() => server.startNextCycle(), closing);
  const broken = new RequestParser();
  broken.receiveData(bytes("GET / HTTP/1.1\r\n\r\n"));
  assert.throws(() => broken.nextEvent(), /missing Host/);
  assert.ok(broken.mustClose);
  assert.throws(() => broken.startNextCycle(), /after a ProtocolError/);
});

// ---- requests: errors and the status a server answers with ----------------------------------

test("malformed request lines: 400, with the line quoted", () => {
  const bad = (line: string, quoted: string) =>
    expectRequestError(`${line}\r\nHost: x\r\n\r\n`, `bad request line: ${quoted}`, 400);
  bad("GET /  HTTP/1.1", "'GET /  HTTP/1.1'");
  bad("GET  / HTTP/1.1", "'GET  / HTTP/1.1'");
  bad("GET / HTTP/1.1 ", "'GET / HTTP/1.1 '");
  bad("GET / http/1.1", "'GET / http/1.1'");
  bad("GET\t/ HTTP/1.1", "'GET\\t/ HTTP/1.1'");
  bad("GET /a b HTTP/1.1", "'GET /a b HTTP/1.1'");
  bad("GET /caf\xe9 HTTP/1.1", "'GET /caf\\xe9 HTTP/1.1'");
  bad("GET / HTTP/1", "'GET / HTTP/1'");
  bad("GET / HTTP/1.10", "'GET / HTTP/1.10'");
  bad("G@T / HTTP/1.1", "'G@T / HTTP/1.1'");
  bad("/ HTTP/1.1", "'/ HTTP/1.1'");
  bad("GET /", "'GET /'"); // HTTP/0.9
  bad("GET / HTTP/1.1\rX", "'GET / HTTP/1.1\\rX'");
  // A control byte first is refused at once: a TLS ClientHello never sends the LF we wait for.
  expectRequestError(
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "bad request line: starts with '\\x16'",
    400,
  );
  expectRequestError(
    " GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad request line: starts with ' '",
    400,
  );
  expectRequestError("\r\n\x00", "bad request line: starts with '\\x00'", 400);
  // HTTP/2 (here its prior-knowledge preface) and later majors: 505.
  expectRequestError(
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "unsupported HTTP version: 'PRI * HTTP/2.0'",
    505,
  );
  expectRequestError(
    "GET / HTTP/3.0\r\nHost: x\r\n\r\n",
    "unsupported HTTP version: 'GET / HTTP/3.0'",
    505,
  );
});

test("bad header lines in a request: 400", () => {
  const head = "GET / HTTP/1.1\r\nHost: x\r\n";
  expectRequestError(`${head}NoColon\r\n\r\n`, "bad header line: 'NoColon'", 400);
  expectRequestError(`${head}Name : x\r\n\r\n`, "bad header line: 'Name : x'", 400);
  expectRequestError(`${head}X: a\x00b\r\n\r\n`, "bad header line: 'X: a\\x00b'", 400);
  expectRequestError(
    "GET / HTTP/1.1\r\n folded\r\n\r\n",
    "continuation line before the first header: ' folded'",
    400,
  );
});

test("the request head cap: 414 for a long request line, 431 for long headers", () => {
  const head = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  assert.is(head.length, 27);
  const make = (maxHeaderBytes: number) => () => new RequestParser({ maxHeaderBytes });
  expectMessages(make(27), head, [request("GET", "/", [["host", "x"]])]);
  expectRequestError(head, "headers exceed 26 bytes", 431, { maxHeaderBytes: 26 });
  expectRequestError(head, "request line exceeds 15 bytes", 414, { maxHeaderBytes: 15 });
  expectRequestError(`GET /${"a".repeat(100)} HTTP/1.1\r\n`, "request line exceeds 64 bytes", 414, {
    maxHeaderBytes: 64,
  });
  expectRequestError(
    `${head.slice(0, -2)}${"X: y\r\n".repeat(60)}\r\n`,
    "headers exceed 256 bytes",
    431,
    {
      maxHeaderBytes: 256,
    },
  );
  // The default is 16 KiB, as in h11 and Node. Each request gets the whole cap again.
  expectRequestError(
    `GET / HTTP/1.1\r\nX: ${"a".repeat(16400)}\r\n\r\n`,
    "headers exceed 16384 bytes",
    431,
  );
  const big = `GET / HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(16300)}\r\n\r\n`;
  const outcome = converse(new RequestParser(), [bytes(big.repeat(3))]);
  assert.is(outcome.messages.length, 3);
  assert.is(outcome.error, undefined);
});

test("Host is required, once, in HTTP/1.1", () => {
  expectRequestError("GET / HTTP/1.1\r\n\r\n", "missing Host header", 400);
  expectRequestError(
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "more than one Host: 'a, b'",
    400,
  );
});

test("request framing that could smuggle a request is refused; unknown codings are 501", () => {
  const head = "POST / HTTP/1.1\r\nHost: x\r\n";
  expectRequestError(
    `${head}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
    "both Transfer-Encoding and Content-Length in a request",
    400,
  );
  expectRequestError(
    `${head}Transfer-Encoding: gzip\r\n\r\n`,
    "Transfer-Encoding not ending in chunked: 'gzip'",
    400,
  );
  expectRequestError(
    `${head}Transfer-Encoding: chunked, gzip\r\n\r\n`,
    "Transfer-Encoding not ending in chunked: 'chunked, gzip'",
    400,
  );
  expectRequestError(
    `${head}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    "unsupported Transfer-Encoding: 'gzip, chunked'",
    501,
  );
  expectRequestError(
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding in an HTTP/1.0 request",
    400,
  );
  expectRequestError(
    `${head}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    "conflicting Content-Length values: '5, 6'",
    400,
  );
  expectRequestError(`${head}Content-Length: +5\r\n\r\n`, "bad Content-Length: '+5'", 400);
  expectRequestError(
    `${head}Transfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n`,
    "expected CRLF after chunk data, got '!'",
    400,
  );
});

test("the request body cap: 413 after the request event, before the body", () => {
  const options = { maxBodyBytes: 5 };
  const post = "POST / HTTP/1.1\r\nHost: x\r\n";
  const chunked: [string, string][] = [
    ["host", "x"],
    ["transfer-encoding", "chunked"],
  ];
  expectRequests(
    `${post}Content-Length: 5\r\n\r\nhello`,
    [
      request(
        "POST",
        "/",
        [
          ["host", "x"],
          ["content-length", "5"],
        ],
        { body: "hello" },
      ),
    ],
    options,
  );
  expectRequests(
    `${post}Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n`,
    [request("POST", "/", chunked, { body: "hello" })],
    options,
  );
  const tooLarge = `${post}Content-Length: 6\r\n\r\nhello!`;
  expectRequestError(tooLarge, "body exceeds 5 bytes", 413, options);
  // The server has the request's head to log or answer, and not one byte of the body.
  const outcome = converse(new RequestParser(options), [bytes(tooLarge)]);
  assert.equal(outcome.events, ["request"]);
  assert.is(outcome.messages[0]?.body, "");
  const chunks = `${post}Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n3\r\nlo!\r\n0\r\n\r\n`;
  expectRequestError(chunks, "body exceeds 5 bytes", 413, options);
  // The default is nginx's 1 MiB; Infinity leaves the counting to the caller.
  expectRequestError(`${post}Content-Length: 1048577\r\n\r\n`, "body exceeds 1048576 bytes", 413);
  const unlimited = converse(new RequestParser({ maxBodyBytes: Infinity }), [
    bytes(`${post}Content-Length: 9007199254740991\r\n\r\nabc`),
  ]);
  assert.is(unlimited.error, "peer closed after 3 of 9007199254740991 body bytes");
});

test("limitBody: a cap for the message being read, from its head on; the next one has the default", () => {
  const parser = new ResponseParser({ maxBodyBytes: 5 });
  const next = () => parser.nextEvent();
  parser.receiveData(
    bytes(
      "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabcdefghi" +
        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabcdefghi",
    ),
  );
  assert.is((next() as { status: number }).status, 200);
  parser.limitBody(Infinity); // above the default: the caller counts
  assert.is(text((next() as { data: Uint8Array }).data), "abcdefghi");
  assert.equal(next(), { type: "end" });
  parser.startNextCycle();
  assert.is((next() as { status: number }).status, 200);
  assert.throws(next, (error: unknown) => {
    return (
      error instanceof ProtocolError &&
      error.message === "body exceeds 5 bytes" &&
      error.statusHint === 413
    );
  });
  const lower = new ResponseParser();
  lower.receiveData(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"));
  lower.nextEvent();
  lower.limitBody(2);
  assert.throws(() => lower.nextEvent(), /body exceeds 2 bytes/);
  for (const bad of [-1, 1.5, NaN]) {
    assert.throws(() => new ResponseParser().limitBody(bad), RangeError);
  }
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
  refuses(
    () => buildRequest(0 as unknown as string),
    "buildRequest() wants a URL or a string, got number",
  );
  refuses(
    () => buildRequest("http://abcd.com/", { method: 5 as unknown as string }),
    "bad method: '5'",
  );
});

// ---- buildResponse --------------------------------------------------------------------------

test("buildResponse writes a whole response that the parser reads back", () => {
  const response = (status: number, options?: Parameters<typeof buildResponse>[1]) =>
    text(buildResponse(status, options));
  const utf8 = text(Buffer.from("привет"));
  assert.is(
    response(200, { headers: { "Content-Type": "text/plain; charset=utf-8" }, body: "привет" }),
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n\r\n${utf8}`,
  );
  assert.is(response(404), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  assert.is(
    response(200, { body: bytes("hi"), reason: "Fine", close: true }),
    "HTTP/1.1 200 Fine\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
  );
  assert.is(response(299), "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n"); // no usual reason
  // HEAD: the length of what GET would send, and no body.
  const head = { method: "HEAD", httpVersion: "1.1" };
  assert.is(
    response(200, { body: "hello", request: head }),
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
  );
  // HTTP/1.0 kept alive must hear so; closing wins over it.
  const old = { method: "GET", httpVersion: "1.0" };
  assert.is(
    response(200, { body: "x", request: old }),
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\nx",
  );
  assert.is(
    response(200, { body: "x", request: old, close: true }),
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
  );
  // No body and no Content-Length for 204, 304 and 1xx; a 1xx says nothing about the connection.
  assert.is(response(204, { close: true }), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  assert.is(
    response(304, { headers: { ETag: '"a"' } }),
    'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n',
  );
  assert.is(response(100, { close: true }), "HTTP/1.1 100 Continue\r\n\r\n");

  const parsed = parseResponse(
    buildResponse(503, { headers: { "Retry-After": "1" }, body: "later" }),
  );
  assert.equal(
    [parsed.status, parsed.reason, parsed.body.toString()],
    [503, "Service Unavailable", "later"],
  );
  assert.equal(
    [...parsed.headers],
    [
      ["retry-after", "1"],
      ["content-length", "5"],
    ],
  );
});

test("buildResponse refuses what would break the message", () => {
  const refuses = (build: () => unknown, kind: typeof TypeError, message: string) =>
    assert.throws(build, (error: unknown) => error instanceof kind && error.message === message);
  for (const status of [99, 600, 200.5, "200" as unknown as number]) {
    refuses(
      () => buildResponse(status),
      RangeError,
      `status must be an integer from 100 to 599, got ${status}`,
    );
  }
  for (const name of ["Content-Length", "connection", "Transfer-Encoding"]) {
    refuses(
      () => buildResponse(200, { headers: { [name]: "1" } }),
      TypeError,
      `buildResponse() writes ${name} itself: leave it out of headers`,
    );
  }
  refuses(
    () => buildResponse(200, { headers: { "X Y": "1" } }),
    TypeError,
    "bad header name: 'X Y'",
  );
  refuses(
    () => buildResponse(200, { headers: { X: "1\r\nSet-Cookie: a=1" } }),
    TypeError,
    "bad value for header X: '1\\r\\nSet-Cookie: a=1'",
  );
  refuses(
    () => buildResponse(200, { reason: "OK\r\n" }),
    TypeError,
    "bad reason phrase: 'OK\\r\\n'",
  );
  refuses(() => buildResponse(204, { body: "x" }), TypeError, "a 204 response has no body");
  refuses(
    () => buildResponse(200, { body: 5 as unknown as string }),
    TypeError,
    "body must be a Uint8Array or a string",
  );
});

test.run();
