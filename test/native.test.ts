// The native module: every wrapper on loopback, each poller, and the safety promises of
// DESIGN.md: wrong types are TypeErrors, select never writes past FD_SETSIZE, SIGPIPE never kills,
// EINTR is retried, closed fds are refused, and nothing leaks.
import { spawnSync } from "node:child_process";
import { openSync, closeSync, readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { createRequire } from "node:module";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AF_INET,
  BlockingIOError,
  BrokenPipeError,
  ChildProcessError,
  ConnectionRefusedError,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  EpollSelector,
  FD_SETSIZE,
  FileNotFoundError,
  GaiError,
  OSError,
  PollSelector,
  SHUT_WR,
  SOL_SOCKET,
  SO_ERROR,
  SOCK_STREAM,
  SO_REUSEADDR,
  SelectSelector,
  Socket,
  WNOHANG,
  availableSelectors,
  close,
  forkExec,
  getaddrinfo,
  getpid,
  getppid,
  joinThreads,
  pipe,
  read,
  socketpair,
  startThreads,
  threadStackSize,
  waitpid,
  type BaseSelector,
} from "@async-from-scratch/native";
import * as native from "@async-from-scratch/native";
import { interruptAfter } from "@async-from-scratch/native/testing";
import { binding, epoll } from "../native/binding.ts";

const selectorClasses = { select: SelectSelector, poll: PollSelector, epoll: EpollSelector };
type Backend = keyof typeof selectorClasses;
const backends = Object.keys(selectorClasses).filter((name) =>
  availableSelectors.includes(name),
) as Backend[];

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Whether fd is close-on-exec, from the flags the kernel shows in /proc (O_CLOEXEC, octal). */
function closeOnExec(fd: number): boolean {
  const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!;
  return (Number.parseInt(flags, 8) & 0o2000000) !== 0;
}

/** A listening socket on 127.0.0.1 and a port the kernel picked. */
function listener(): [Socket, number] {
  const server = new Socket();
  server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  server.bind(["127.0.0.1", 0]);
  server.listen(8);
  return [server, server.getsockname()[1]];
}

/** A connected pair of TCP sockets on loopback: [client, accepted]. */
function tcpPair(): [Socket, Socket] {
  const [server, port] = listener();
  const client = new Socket();
  client.connect(["127.0.0.1", port]);
  const [accepted] = server.accept();
  server.close();
  return [client, accepted];
}

/**
 * Runs `code` (JavaScript, an ES module that may import the TypeScript packages) in a new Node
 * process, for what this process must not do itself: crash, force a garbage collection, change
 * its own fds 0-2.
 */
function runScript(code: string, nodeFlags: string[] = []) {
  return spawnSync(
    process.execPath,
    [...nodeFlags, "--import", import.meta.resolve("tsx"), "--input-type=module", "-e", code],
    { cwd: dirname(fileURLToPath(import.meta.url)), encoding: "utf8", timeout: 60_000 },
  );
}

function throws(fn: () => unknown, check: (error: Error) => boolean, what: string): void {
  try {
    fn();
  } catch (error) {
    assert.ok(check(error as Error), `${what}: unexpected ${String(error)}`);
    return;
  }
  assert.unreachable(`${what}: did not throw`);
}

// ---- argument checking -------------------------------------------------------------------------

test("every native function rejects wrong argument types with a TypeError", () => {
  const calls: [string, unknown[]][] = [
    ["socket", ["x", 1]],
    ["setBlocking", [0, "yes"]],
    ["getBlocking", [null]],
    ["checkFd", [1.5]],
    ["connect", [0, 1, 80]],
    ["bind", [0, "127.0.0.1", "80"]],
    ["listen", [0, {}]],
    ["accept", [undefined]],
    ["getsockname", ["3"]],
    ["send", [0, "text is not bytes"]],
    ["send", [0, new Uint16Array(2)]],
    ["recv", [0, "4096"]],
    ["read", [0, NaN]],
    ["shutdown", [0, true]],
    ["close", [Symbol("fd")]],
    ["setsockopt", [0, 1, 2, "1"]],
    ["getsockopt", [0, 1n, 2]],
    ["getaddrinfo", [42, 80, 0]],
    ["getaddrinfo", ["local\0host", 80, 0]],
    ["select", [[3], new Int32Array(), 0]],
    ["select", [new Int32Array(), new Int32Array(), "soon"]],
    ["poll", [[3, 1], 0]],
    ["forkExec", ["echo", "echo hi", -1]],
    ["forkExec", ["echo", ["echo", 5], -1]],
    ["waitpid", ["1", 0]],
    ["startThreads", [Infinity]],
    ["joinThreads", [[]]],
    ["interruptAfter", [1, "1", 1]],
    ["strerror", ["EAGAIN"]],
    ["setErrorFactory", [42]],
    ["recv", []],
  ];
  if (epoll) calls.push(["epollCtl", [0, 1, "fd", 1]], ["epollWait", [0, "forever"]]);
  const functions = binding as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, args] of calls) {
    throws(
      () => functions[name]!(...args),
      (error) =>
        error instanceof TypeError && (error as { code?: string }).code === "ERR_INVALID_ARG_TYPE",
      `${name}(${args.map(String).join(", ")})`,
    );
  }
});

test("out-of-range values are RangeErrors that name the argument", () => {
  throws(
    () => binding.recv(0, 0),
    (e) => e instanceof RangeError && /'size'/.test(e.message),
    "recv size 0",
  );
  throws(
    () => binding.recv(-1, 10),
    (e) => e instanceof RangeError && /'fd'/.test(e.message),
    "fd -1",
  );
  throws(
    () => binding.connect(0, "127.0.0.1", 70000),
    (e) => /'port'/.test(e.message),
    "port",
  );
  throws(
    () => binding.connect(0, "localhost", 80),
    (e) => e instanceof RangeError && /numeric IPv4 or IPv6/.test(e.message),
    "names are not resolved by connect",
  );
  throws(
    () => binding.poll(new Int32Array([3]), 0),
    (e) => /pairs/.test(e.message),
    "odd pollfds",
  );
});

// ---- sockets -----------------------------------------------------------------------------------

test("a TCP round trip on loopback: bind, listen, connect, accept, send, recv, shutdown, close", () => {
  const [server, port] = listener();
  assert.ok(port > 0);
  const client = new Socket();
  assert.is(client.family, AF_INET);
  assert.ok(client.getBlocking());
  client.connect(["localhost", port]); // a name: resolved by getaddrinfo first
  const [accepted, [peerHost, peerPort]] = server.accept();
  assert.is(peerHost, "127.0.0.1");
  assert.is(peerPort, client.getsockname()[1]);
  assert.ok(accepted.getBlocking(), "accepted sockets start blocking");
  const message = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
  client.sendAll(message);
  assert.equal(new Uint8Array(accepted.recv(4096)), message);
  accepted.shutdown(SHUT_WR);
  assert.is(client.recv(4096).length, 0, "shutdown(SHUT_WR) reads as end of file");
  for (const sock of [client, accepted, server]) sock.close();
  assert.is(client.fileno(), -1);
  client.close(); // twice is harmless
});

test("setBlocking(false): connect raises BlockingIOError(EINPROGRESS), recv raises EAGAIN", () => {
  const [server, port] = listener();
  const client = new Socket();
  client.setBlocking(false);
  assert.not.ok(client.getBlocking());
  throws(
    () => client.connect(["127.0.0.1", port]),
    (e) =>
      e instanceof BlockingIOError &&
      e.code === "EINPROGRESS" &&
      e.errno === constants.errno.EINPROGRESS &&
      e.syscall === "connect" &&
      e.message === `connect(127.0.0.1:${port}): Operation now in progress (EINPROGRESS)`,
    "non-blocking connect",
  );
  const selector = new DefaultSelector();
  selector.register(client, EVENT_WRITE);
  assert.is([...selector.select(2)].length, 1, "writable once connected");
  assert.is(client.getsockopt(SOL_SOCKET, SO_ERROR), 0);
  selector.close();
  throws(
    () => client.recv(10),
    (e) =>
      e instanceof BlockingIOError &&
      (e as OSError).code === "EAGAIN" &&
      e.name === "BlockingIOError",
    "recv with nothing to read",
  );
  client.close();
  server.close();
});

test("a refused connection: ConnectionRefusedError when blocking, SO_ERROR when not", () => {
  const [server, port] = listener();
  server.close(); // nobody listens on port now
  const blocking = new Socket();
  throws(
    () => blocking.connect(["127.0.0.1", port]),
    (e) => e instanceof ConnectionRefusedError && (e as OSError).code === "ECONNREFUSED",
    "blocking connect",
  );
  blocking.close();
  const nonBlocking = new Socket();
  nonBlocking.setBlocking(false);
  throws(
    () => nonBlocking.connect(["127.0.0.1", port]),
    (e) => e instanceof BlockingIOError,
    "connect",
  );
  const selector = new DefaultSelector();
  selector.register(nonBlocking, EVENT_WRITE);
  assert.is([...selector.select(2)].length, 1, "a failed handshake also wakes the writer");
  assert.is(nonBlocking.getsockopt(SOL_SOCKET, SO_ERROR), constants.errno.ECONNREFUSED);
  selector.close();
  nonBlocking.close();
});

test("getaddrinfo resolves localhost and raises GaiError for a name that does not exist", () => {
  assert.ok(
    getaddrinfo("localhost", 80).some((info) => info.host === "127.0.0.1" && info.port === 80),
  );
  throws(
    () => getaddrinfo("no-such-host.invalid", 80),
    (e) =>
      e instanceof GaiError &&
      (e as OSError).code.startsWith("EAI_") &&
      /no-such-host/.test(e.message),
    "unknown name",
  );
});

test("a closed socket raises OSError(EBADF) naming the call", () => {
  const sock = new Socket();
  sock.close();
  throws(
    () => sock.recv(1),
    (e) => e instanceof OSError && e.message === "recv(closed socket): Bad file descriptor (EBADF)",
    "recv",
  );
  throws(
    () => binding.close(100_000),
    (e) => (e as OSError).code === "EBADF",
    "close of an fd never opened",
  );
});

test("send to a closed peer raises BrokenPipeError and the process lives on (no SIGPIPE)", () => {
  const [a, b] = socketpair();
  close(b);
  throws(
    () => binding.send(a, new Uint8Array(10)),
    (e) => e instanceof BrokenPipeError && (e as OSError).code === "EPIPE",
    "socketpair",
  );
  close(a);
  const [client, accepted] = tcpPair();
  client.shutdown(SHUT_WR);
  throws(
    () => client.send(new Uint8Array(10)),
    (e) => e instanceof BrokenPipeError,
    "after shutdown(SHUT_WR)",
  );
  client.close();
  accepted.close();
});

test("accept() gives a blocking socket; accept({ blocking: false }) a non-blocking one", () => {
  const [server, port] = listener();
  const clients = [new Socket(), new Socket()];
  for (const client of clients) client.connect(["127.0.0.1", port]);
  const [blocking] = server.accept();
  assert.ok(blocking.getBlocking());
  const [nonBlocking, [host, peerPort]] = server.accept({ blocking: false });
  assert.not.ok(nonBlocking.getBlocking());
  assert.ok(closeOnExec(nonBlocking.fileno()), "close-on-exec like every fd of the module");
  assert.equal([host, peerPort], ["127.0.0.1", clients[1]!.getsockname()[1]]);
  throws(
    () => nonBlocking.recv(10),
    (e) => e instanceof BlockingIOError,
    "recv on the non-blocking socket",
  );
  server.setBlocking(false);
  throws(
    () => server.accept({ blocking: false }),
    (e) => e instanceof BlockingIOError && (e as OSError).syscall === "accept",
    "nothing to accept",
  );
  throws(
    () => server.accept({ blocking: "no" } as never),
    (e) => e instanceof TypeError && /'blocking'/.test(e.message),
    "blocking: 'no'",
  );
  for (const sock of [...clients, blocking, nonBlocking, server]) sock.close();
});

test("wrong types given to the TypeScript layer are TypeErrors that name the argument", () => {
  const sock = new Socket();
  for (const data of [42, {}, Symbol("data"), "text", "", [1, 2], undefined]) {
    throws(
      () => sock.sendAll(data as never),
      (e) =>
        e instanceof TypeError &&
        /^sendAll\(\): argument 'data' must be a Uint8Array or Buffer, got /.test(e.message),
      `sendAll(${String(data)})`,
    );
  }
  const addresses = ["127.0.0.1:80", ["127.0.0.1"], [80, "127.0.0.1"], ["127.0.0.1", "80"], null];
  for (const address of addresses) {
    for (const name of ["connect", "bind"] as const) {
      throws(
        () => sock[name](address as never),
        (e) =>
          e instanceof TypeError &&
          e.message.startsWith(`${name}(): argument 'address' must be [host, port]`),
        `${name}(${JSON.stringify(address)})`,
      );
    }
  }
  throws(
    () => new Socket(AF_INET, SOCK_STREAM, "5" as never),
    (e) => e instanceof TypeError && /argument 'fd' must be/.test(e.message),
    "fd '5'",
  );
  throws(
    () => new Socket(AF_INET, SOCK_STREAM, -2),
    (e) => e instanceof RangeError && /argument 'fd'/.test(e.message),
    "fd -2",
  );
  const selector = new DefaultSelector();
  throws(
    () => selector.register({ fileno: () => "5" } as never, EVENT_READ),
    (e) => e instanceof TypeError && /fileno\(\) must return an integer/.test(e.message),
    "fileno() returns a string",
  );
  selector.close();
  sock.close();
});

test("using: a Socket and a selector close at the end of the block, like Python's with", () => {
  const before = openFds();
  let sock!: Socket;
  let selector!: BaseSelector;
  {
    using s = new Socket();
    using sel = new DefaultSelector();
    sel.register(s, EVENT_WRITE);
    [sock, selector] = [s, sel];
    assert.ok(openFds() > before);
  }
  assert.is(sock.fileno(), -1);
  throws(
    () => selector.select(0),
    (e) => /is closed/.test(e.message),
    "select after the block",
  );
  assert.is(openFds(), before);
});

test("Socket and selector objects dropped without close() are closed when collected, with a ResourceWarning", () => {
  const result = runScript(
    `import { existsSync } from "node:fs";
     import { DefaultSelector, Socket } from "@async-from-scratch/native";
     const isOpen = (fd) => existsSync("/proc/self/fd/" + fd);
     const closedByHand = new Socket();
     closedByHand.close();
     const fds = (() => [new Socket().fileno(), new DefaultSelector().fileno()])();
     for (let i = 0; i < 20 && fds.some(isOpen); i++) {
       globalThis.gc();
       await new Promise((resolve) => setTimeout(resolve, 10));
     }
     console.log(JSON.stringify({ fds, open: fds.filter(isOpen) }));`,
    ["--expose-gc"],
  );
  assert.is(result.status, 0, result.stderr);
  const { fds, open } = JSON.parse(result.stdout) as { fds: number[]; open: number[] };
  assert.equal(open, [], "both fds were closed");
  const warnings = result.stderr.match(/ResourceWarning: .*/g) ?? [];
  assert.equal(warnings.sort(), [
    `ResourceWarning: unclosed Socket fd=${fds[0]}: closed when it was garbage-collected; close it with close() or using`,
    `ResourceWarning: unclosed epoll selector fd=${fds[1]}: closed when it was garbage-collected; close it with close() or using`,
  ]);
});

test("recv's scratch buffer shrinks back after a big recv", () => {
  const result = runScript(
    `import { AF_UNIX, SOCK_STREAM, Socket, socketpair } from "@async-from-scratch/native";
     const [reader, writer] = socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd));
     writer.sendAll(Buffer.from("x"));
     reader.recv(4096);
     const before = process.memoryUsage().rss;
     writer.sendAll(Buffer.from("y"));
     const got = reader.recv(64 * 1024 * 1024).toString();
     const grown = process.memoryUsage().rss - before;
     console.log(JSON.stringify({ got, grownMiB: grown / 2 ** 20 }));`,
  );
  assert.is(result.status, 0, result.stderr);
  const { got, grownMiB } = JSON.parse(result.stdout) as { got: string; grownMiB: number };
  assert.is(got, "y");
  // Kept, the 64 MiB asked for would all be resident: zero-filled once, never given back.
  assert.ok(grownMiB < 16, `resident memory grew by ${grownMiB.toFixed(1)} MiB after one recv`);
});

// ---- selectors ---------------------------------------------------------------------------------

for (const backend of backends) {
  const make = () => new selectorClasses[backend]<string>() as BaseSelector<string>;

  test(`${backend}: reports readiness with the registered data, and times out when idle`, () => {
    const selector = make();
    assert.is(selector.name, backend);
    const [a, b] = socketpair();
    selector.register(a, EVENT_READ, "reader");
    const started = performance.now();
    assert.equal([...selector.select(0.05)], []);
    assert.ok(performance.now() - started >= 45, "waited for the timeout");
    binding.send(b, new Uint8Array([1]));
    const ready = [...selector.select(1)];
    assert.is(ready.length, 1);
    assert.is(ready[0]![0].data, "reader");
    assert.is(ready[0]![0].fd, a);
    assert.is(ready[0]![1], EVENT_READ);
    selector.modify(a, EVENT_READ | EVENT_WRITE, "both");
    const both = [...selector.select(1)];
    assert.is(both[0]![1], EVENT_READ | EVENT_WRITE);
    assert.is(both[0]![0].data, "both");
    assert.is(selector.getKey(a).events, EVENT_READ | EVENT_WRITE);
    assert.equal([...selector.getMap().keys()], [a]);
    selector.unregister(a);
    assert.is(selector.getMap().size, 0);
    selector.close();
    selector.close(); // twice is harmless
    throws(
      () => selector.select(0),
      (e) => /selector is closed/.test(e.message),
      "select",
    );
    throws(
      () => selector.register(a, EVENT_READ),
      (e) => /is closed/.test(e.message),
      "register",
    );
    close(a);
    close(b);
  });

  test(`${backend}: an fd unregistered earlier in the same batch is not delivered`, () => {
    const selector = make();
    const pairs = [socketpair(), socketpair()];
    for (const [reader, writer] of pairs) {
      selector.register(reader, EVENT_READ, String(reader));
      binding.send(writer, new Uint8Array([1]));
    }
    const delivered: string[] = [];
    for (const [key] of selector.select(1)) {
      delivered.push(key.data);
      for (const [reader] of pairs) if (reader !== key.fd) selector.unregister(reader);
    }
    assert.is(delivered.length, 1, `delivered ${delivered.join(", ")}`);
    selector.close();
    for (const pair of pairs) pair.forEach((fd) => close(fd));
  });

  test(`${backend}: hang-up and errors are reported as readiness`, () => {
    const selector = make();
    const [a, b] = socketpair();
    selector.register(a, EVENT_READ);
    close(b);
    assert.is([...selector.select(1)].length, 1, "the peer's close wakes the reader");
    assert.is(binding.recv(a, 10).length, 0, "and recv then reads end of file");
    selector.close();
    close(a);
  });

  test(`${backend}: refuses a closed fd, a made-up fd, a duplicate and bad events`, () => {
    const selector = make();
    const [a, b] = socketpair();
    close(b);
    throws(
      () => selector.register(b, EVENT_READ),
      (e) => (e as OSError).code === "EBADF",
      "closed fd",
    );
    throws(
      () => selector.register(1000, EVENT_READ),
      (e) => (e as OSError).code === "EBADF",
      "made-up fd",
    );
    selector.register(a, EVENT_READ);
    throws(
      () => selector.register(a, EVENT_WRITE),
      (e) => /already registered/.test(e.message),
      "twice",
    );
    throws(
      () => selector.unregister(b),
      (e) => /not registered/.test(e.message),
      "unknown",
    );
    throws(
      () => selector.modify(a, 4),
      (e) => e instanceof RangeError,
      "events 4",
    );
    // 2**32 + 1 reads as 1 to a 32-bit bit test; Python refuses it, and so do we.
    for (const events of [-1, 0, 4, 2 ** 32, 2 ** 32 + 1, 2 ** 33 + 3]) {
      for (const [name, call] of [
        ["register", () => selector.register(b, events)],
        ["modify", () => selector.modify(a, events)],
      ] as const) {
        throws(
          call,
          (e) => e instanceof RangeError && /invalid events/.test(e.message),
          `${name} events ${String(events)}`,
        );
      }
    }
    // Not an integer: TypeError, as Python's `events & ~3` raises for a float or a string.
    for (const events of [NaN, 1.5, Infinity, "1", null, undefined, 1n, {}]) {
      for (const [name, call] of [
        ["register", () => selector.register(b, events as number)],
        ["modify", () => selector.modify(a, events as number)],
      ] as const) {
        throws(
          call,
          (e) =>
            e instanceof TypeError &&
            e.message.startsWith(`${name}(): argument 'events' must be an integer`),
          `${name} events ${String(events)}`,
        );
      }
    }
    assert.is(selector.getKey(a).events, EVENT_READ, "a refused modify() changed nothing");
    throws(
      () => selector.register(-1, EVENT_READ),
      (e) => e instanceof RangeError,
      "fd -1",
    );
    const closedSocket = new Socket();
    closedSocket.close();
    throws(
      () => selector.register(closedSocket, EVENT_READ),
      (e) => /closed/.test(e.message),
      "closed Socket",
    );
    throws(
      () => selector.register("5" as never, EVENT_READ),
      (e) => e instanceof TypeError,
      "string",
    );
    throws(
      () => selector.select("soon" as never),
      (e) => e instanceof TypeError,
      "timeout",
    );
    selector.close();
    close(a);
  });

  test(`${backend}: unregister() after close() finds the key by its object and frees the fd`, () => {
    const selector = make();
    const first = new Socket();
    const fd = first.fileno();
    selector.register(first, EVENT_READ, "first");
    first.close();
    const key = selector.unregister(first); // fileno() is -1 now: found by the object, as Python does
    assert.equal([key.fd, key.data], [fd, "first"]);
    assert.is(selector.getMap().size, 0);
    const second = new Socket();
    assert.is(second.fileno(), fd, "the kernel hands out the same number again");
    selector.register(second, EVENT_WRITE, "second");
    assert.is(selector.getKey(second).data, "second");
    throws(
      () => selector.unregister(first),
      (e) => e instanceof RangeError && /closed/.test(e.message),
      "unregistered twice",
    );
    selector.close();
    second.close();
  });

  test(`${backend}: a modify() the kernel refuses unregisters the fd, then rethrows (bpo-30014)`, () => {
    const selector = make();
    const [a, b] = socketpair();
    selector.register(a, EVENT_READ, "a");
    close(a); // behind the selector's back
    throws(
      () => selector.modify(a, EVENT_WRITE, "a"),
      (e) => (e as OSError).code === "EBADF",
      "modify of a closed fd",
    );
    assert.is(selector.getMap().size, 0, "the stale key is gone");
    const [c, d] = socketpair();
    assert.is(c, a, "the next socket gets the freed number");
    selector.register(c, EVENT_READ, "c");
    assert.is(selector.getKey(c).data, "c");
    selector.close();
    [b, c, d].forEach((fd) => close(fd));
  });

  test(`${backend}: getMap() is a read-only view at run time, and its keys are frozen`, () => {
    const selector = make();
    const [a, b] = socketpair();
    const key = selector.register(a, EVENT_READ, "a");
    const map = selector.getMap() as unknown as Map<number, unknown>;
    for (const change of [() => map.set(b, {}), () => map.delete(a), () => map.clear()]) {
      throws(change, (e) => e instanceof TypeError, String(change));
    }
    throws(
      () => ((key as { data: string }).data = "changed"),
      (e) => e instanceof TypeError,
      "key.data =",
    );
    assert.is(map.size, 1);
    assert.is(selector.getMap().get(a)?.data, "a");
    assert.equal(
      [...selector.getMap()].map(([fd, { data }]) => [fd, data]),
      [[a, "a"]],
    );
    selector.unregister(a);
    assert.is(map.size, 0, "a live view: it shows later changes");
    selector.close();
    close(a);
    close(b);
  });

  test(`${backend}: EINTR is retried with the time that remains`, () => {
    const selector = make();
    const [a, b] = socketpair();
    selector.register(a, EVENT_READ);
    // Ten signals 40 ms apart, all inside a 400 ms wait. Without the retry the first one would
    // end the wait with InterruptedError; retrying with the full timeout each time would take
    // 380 + 400 ms.
    interruptAfter(20, 10, 40);
    const started = performance.now();
    const ready = [...selector.select(0.4)];
    const elapsed = performance.now() - started;
    assert.equal(ready, []);
    assert.ok(elapsed >= 390, `returned after ${elapsed} ms, before its timeout`);
    assert.ok(elapsed < 650, `took ${elapsed} ms: the timeout restarted after a signal`);
    selector.close();
    close(a);
    close(b);
  });
}

test("DefaultSelector is the best available: epoll on Linux", () => {
  const selector = new DefaultSelector();
  assert.is(selector.name, availableSelectors[0]);
  if (process.platform === "linux") assert.is(selector.name, "epoll");
  selector.close();
});

if (epoll) {
  test("epoll: one wait returns at most 1024 fds; the rest come with the next wait", () => {
    const selector = new EpollSelector<number>();
    const pairs = Array.from({ length: 1100 }, () => socketpair());
    for (const [, writer] of pairs) selector.register(writer, EVENT_WRITE, writer);
    const first = [...selector.select(0)].map(([key]) => key.data);
    const second = [...selector.select(0)].map(([key]) => key.data);
    assert.is(first.length, 1024);
    assert.is(new Set([...first, ...second]).size, 1100, "the second wait has the other 76");
    selector.close();
    for (const pair of pairs) pair.forEach((fd) => close(fd));
  });
}

test("the select binding reads the fd list once: another thread rewriting it cannot crash it", () => {
  // A worker flips a shared fd list between a good fd and one far past FD_SETSIZE while this
  // process calls select on it. Read twice (once for FD_SET, once for FD_ISSET), the second read
  // could be the bad one, and FD_ISSET would read far outside the fd_set. Run in a child: that
  // crash would take the test runner with it.
  const bindingUrl = new URL("../native/binding.ts", import.meta.url).href;
  const result = runScript(
    `import { Worker } from "node:worker_threads";
     import { binding } from ${JSON.stringify(bindingUrl)};
     const [a, b] = binding.socketpair();
     const shared = new SharedArrayBuffer(8);
     const [fds, started] = [new Int32Array(shared, 0, 1), new Int32Array(shared, 4, 1)];
     fds[0] = b;
     const worker = new Worker(
       "import { workerData } from 'node:worker_threads';" +
         "const { shared, fd } = workerData;" +
         "const [fds, started] = [new Int32Array(shared, 0, 1), new Int32Array(shared, 4, 1)];" +
         "Atomics.store(started, 0, 1);" +
         "Atomics.notify(started, 0);" +
         "for (;;) { fds[0] = 1 << 30; fds[0] = fd; }",
       { eval: true, workerData: { shared, fd: b } },
     );
     Atomics.wait(started, 0, 0, 30_000);
     // On until both outcomes have come up often: a busy machine may leave the worker waiting.
     let [answered, refused] = [0, 0];
     const end = performance.now() + 10_000;
     while ((answered < 1000 || refused < 1000) && performance.now() < end) {
       try {
         binding.select(new Int32Array(0), fds, 0);
         answered++;
       } catch (error) {
         if (!(error instanceof RangeError)) throw error;
         refused++;
       }
     }
     await worker.terminate();
     console.log(JSON.stringify({ answered, refused }));`,
  );
  assert.equal([result.status, result.signal], [0, null], result.stderr);
  const { answered, refused } = JSON.parse(result.stdout) as { answered: number; refused: number };
  assert.ok(answered > 0 && refused > 0, `the race ran: ${answered} answered, ${refused} refused`);
});

test("select refuses fds from FD_SETSIZE up, with an error that names it; poll and epoll take them", () => {
  assert.is(FD_SETSIZE, 1024);
  // Made-up fds: the check must come before FD_SET, which would write past the 128-byte fd_set.
  for (const fd of [1024, 5000, 1 << 30]) {
    throws(
      () => binding.select(new Int32Array([fd]), new Int32Array(), 0),
      (e) =>
        e instanceof RangeError &&
        /FD_SETSIZE is 1024/.test(e.message) &&
        e.message.includes(`fd ${fd}`),
      `select(${fd})`,
    );
    throws(
      () => binding.select(new Int32Array(), new Int32Array([fd]), 0),
      (e) => /FD_SETSIZE/.test(e.message),
      `write ${fd}`,
    );
  }
  // A real fd above the limit: open /dev/null until the numbers pass 1024.
  const padding: number[] = [];
  while (padding.length === 0 || padding.at(-1)! < FD_SETSIZE)
    padding.push(openSync("/dev/null", "r"));
  const [a, b] = socketpair();
  try {
    assert.ok(a >= FD_SETSIZE);
    throws(
      () => new SelectSelector().register(a, EVENT_READ),
      (e) => /FD_SETSIZE \(1024\)/.test(e.message),
      "SelectSelector",
    );
    binding.send(b, new Uint8Array([1]));
    for (const backend of backends.filter((name) => name !== "select")) {
      const selector = new selectorClasses[backend]();
      selector.register(a, EVENT_READ);
      assert.is([...selector.select(1)].length, 1, `${backend} watches fd ${a}`);
      selector.close();
    }
  } finally {
    close(a);
    close(b);
    padding.forEach((fd) => closeSync(fd));
  }
});

// ---- processes and threads ---------------------------------------------------------------------

test("getpid and getppid agree with Node's", () => {
  assert.is(getpid(), process.pid);
  assert.is(getppid(), process.ppid);
});

function runChild(args: string[]): {
  output: string;
  exitCode: number | null;
  signal: number | null;
} {
  const [readEnd, writeEnd] = pipe();
  const pid = forkExec(args[0]!, args, writeEnd);
  close(writeEnd); // else read() never sees end of file: we would hold a writer ourselves
  let output = "";
  for (let chunk = read(readEnd, 4096); chunk.length > 0; chunk = read(readEnd, 4096))
    output += chunk;
  close(readEnd);
  const status = waitpid(pid, 0)!;
  assert.is(status.pid, pid);
  return { output, exitCode: status.exitCode, signal: status.signal };
}

test("forkExec runs a program from $PATH with its output on a pipe; waitpid reaps it", () => {
  assert.equal(runChild(["echo", "hello", "world"]), {
    output: "hello world\n",
    exitCode: 0,
    signal: null,
  });
  assert.equal(runChild(["sh", "-c", "exit 3"]), { output: "", exitCode: 3, signal: null });
  assert.equal(runChild(["sh", "-c", "kill -TERM $$"]), {
    output: "",
    exitCode: null,
    signal: constants.signals.SIGTERM,
  });
  // The child starts with default signal dispositions, although Node ignores SIGPIPE.
  assert.equal(
    runChild(["sh", "-c", "grep SigIgn /proc/self/status"]).output.trim(),
    "SigIgn:\t0000000000000000",
  );
});

/** The pids of this process's children (tsx has one of its own: esbuild). */
function children(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // Field 4 of /proc/PID/stat is the parent's pid; the command name before it may hold spaces.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid;
      } catch {
        return false; // it ended while we looked
      }
    })
    .map(Number);
}

test("forkExec reports a missing program in the parent, and leaves no child behind", () => {
  const before = children();
  throws(
    () => forkExec("no-such-program-here", ["no-such-program-here"], -1),
    (e) => e instanceof FileNotFoundError && (e as OSError).syscall === "execve",
    "missing program",
  );
  throws(
    () => forkExec("/etc/passwd", ["passwd"], -1),
    (e) => (e as OSError).code === "EACCES",
    "not executable",
  );
  assert.equal(children(), before);
  throws(
    () => waitpid(999_999_999, 0),
    (e) => e instanceof ChildProcessError,
    "not our child",
  );
});

test("forkExec's children inherit fds 0, 1 and 2, as a shell's do", () => {
  // In a child Node whose stdio are pipes: once Node opens them as streams, it marks fds 0-2
  // close-on-exec, so a child that did nothing about it would start with them closed.
  const result = runScript(
    `import { close, forkExec, pipe, read, waitpid } from "@async-from-scratch/native";
     process.stdin, process.stdout, process.stderr;
     const script = 'for fd in 0 1 2; do [ -e /proc/$$/fd/$fd ] && printf "%s " $fd; done; echo; echo err >&2';
     waitpid(forkExec("sh", ["sh", "-c", script], -1), 0);
     const [readEnd, writeEnd] = pipe();
     const pid = forkExec("sh", ["sh", "-c", script], writeEnd);
     close(writeEnd);
     let output = "";
     for (let chunk = read(readEnd, 4096); chunk.length > 0; chunk = read(readEnd, 4096)) output += chunk;
     close(readEnd);
     waitpid(pid, 0);
     console.log("through a pipe: " + output.trim());`,
  );
  assert.is(result.status, 0, result.stderr);
  assert.is(result.stdout, "0 1 2 \nthrough a pipe: 0 1 2\n");
  assert.is(result.stderr, "err\nerr\n");
});

test("forkExec refuses a closed stdoutFd with EBADF before it forks", () => {
  const before = children();
  // A number just freed is the one the module's own error pipe would get next: handed to the
  // child as its stdout, the child's output would be read as an exec failure, or lost.
  const [readEnd, writeEnd] = pipe();
  close(readEnd);
  close(writeEnd);
  for (const fd of [writeEnd, 99_999]) {
    throws(
      () => forkExec("echo", ["echo", "lost"], fd),
      (e) => (e as OSError).code === "EBADF" && e.message.includes(`stdoutFd ${fd}`),
      `stdoutFd ${fd}`,
    );
  }
  assert.equal(children(), before);
});

test("waitpid with WNOHANG returns null while the child runs", () => {
  const pid = forkExec("sleep", ["sleep", "0.2"], -1);
  assert.is(waitpid(pid, WNOHANG), null);
  assert.is(waitpid(pid, 0)!.exitCode, 0);
});

test("blocking recv and waitpid retry EINTR", () => {
  const [a, b] = socketpair();
  // The child writes to b after 300 ms, while signals hit this thread inside recv(a).
  const writer = forkExec("sh", ["sh", "-c", "sleep 0.3; printf late"], b);
  interruptAfter(30, 5, 30);
  assert.is(binding.recv(a, 10).toString(), "late");
  assert.is(waitpid(writer, 0)!.exitCode, 0);
  const sleeper = forkExec("sleep", ["sleep", "0.2"], -1);
  interruptAfter(20, 3, 20);
  assert.is(waitpid(sleeper, 0)!.exitCode, 0);
  close(a);
  close(b);
});

test("interruptAfter is a test hook: native/testing.ts has it, the lesson-facing API does not", () => {
  assert.not.ok("interruptAfter" in native);
  assert.is(typeof interruptAfter, "function");
});

function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]);
}

test("startThreads starts real OS threads that joinThreads ends", () => {
  const before = threadCount();
  const group = startThreads(50);
  assert.is(threadCount(), before + 50);
  joinThreads(group);
  assert.is(threadCount(), before);
  throws(
    () => joinThreads(group),
    (e) => e instanceof RangeError,
    "joined twice",
  );
  assert.ok(threadStackSize() >= 64 * 1024);
});

test("the module loads in a worker thread with its own state", async () => {
  const nativePath = createRequire(import.meta.url).resolve("../native/build/Release/native.node");
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     const native = require(workerData);
     const [a, b] = native.socketpair();
     native.send(a, Buffer.from("from a worker"));
     parentPort.postMessage(native.recv(b, 100).toString());
     native.close(a); native.close(b);`,
    { eval: true, workerData: nativePath },
  );
  const message = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  assert.is(message, "from a worker");
  await worker.terminate();
});

test("no fd leaks: sockets, selectors, failed calls, pipes and children all close what they open", () => {
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    const [client, accepted] = tcpPair();
    for (const backend of backends) {
      const selector = new selectorClasses[backend]();
      selector.register(client, EVENT_WRITE);
      [...selector.select(0)];
      selector.close();
    }
    client.close();
    accepted.close();
    const refused = new Socket();
    try {
      refused.connect(["127.0.0.1", 1]);
    } catch {}
    refused.close();
    try {
      forkExec("no-such-program-here", ["x"], -1);
    } catch {}
  }
  runChild(["true"]);
  assert.is(openFds(), before);
});

test.run();
