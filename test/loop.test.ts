// The production event loop (shared/loop): callbacks and timers in order, sockets served and
// fetched on one thread, timeouts and cancellation that leave nothing watched, signals and worker
// threads that wake a loop asleep in select(), and the queue the crawler's workers share.
import { spawn } from "node:child_process";
import { getEventListeners } from "node:events";
import { readdirSync } from "node:fs";
import { MessagePort } from "node:worker_threads";
import { constants } from "node:os";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AF_UNIX,
  BrokenPipeError,
  PollSelector,
  SOCK_STREAM,
  SelectSelector,
  SOL_SOCKET,
  SO_REUSEADDR,
  Socket,
  TimeoutError,
  close,
  pipe,
  read,
  socketpair,
  watchSignals,
  write,
  type SelectorKey,
} from "@async-from-scratch/native";
import {
  CancelledError,
  EventLoop,
  Queue,
  QueueFull,
  Waker,
  WorkerPool,
} from "@async-from-scratch/shared/loop";

const openFds = () => readdirSync("/proc/self/fd").length;

/** Runs main on a fresh loop and closes the loop after. */
async function withLoop<T>(main: (loop: EventLoop) => Promise<T>, loop = new EventLoop()) {
  try {
    return await loop.run(main(loop));
  } finally {
    loop.close();
  }
}

function listening(): [Socket, number] {
  const server = new Socket();
  server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  server.bind(["127.0.0.1", 0]);
  server.listen(1024);
  server.setBlocking(false);
  return [server, server.getsockname()[1]];
}

/** A poll selector that counts what it tells the kernel. */
class CountingSelector<T> extends PollSelector<T> {
  changes = 0;
  override register(fileobj: number, events: number, data?: T): SelectorKey<T> {
    this.changes++;
    return super.register(fileobj, events, data);
  }
  override modify(fileobj: number, events: number, data?: T): SelectorKey<T> {
    this.changes++;
    return super.modify(fileobj, events, data);
  }
  override unregister(fileobj: number): SelectorKey<T> {
    this.changes++;
    return super.unregister(fileobj);
  }
}

test("callbacks run in the order they were scheduled; timers by time, then by order set", async () => {
  const order: string[] = [];
  await withLoop(async (loop) => {
    loop.callLater(30, () => order.push("timer 30"));
    loop.callLater(10, () => order.push("timer 10 a"));
    loop.callLater(10, () => order.push("timer 10 b"));
    loop.callLater(20, () => order.push("cancelled")).cancel();
    loop.callSoon(() => order.push("soon 1"));
    loop.callSoon(() => order.push("soon 2")).cancel();
    loop.callSoon(() => order.push("soon 3"));
    const started = loop.time();
    await loop.sleep(40);
    assert.ok(loop.time() - started >= 40, "sleep waited its time");
  });
  assert.equal(order, ["soon 1", "soon 3", "timer 10 a", "timer 10 b", "timer 30"]);
});

test("a callback added by a callback runs in the next round, not in this one", async () => {
  const order: string[] = [];
  await withLoop(
    (loop) =>
      new Promise<void>((done) => {
        loop.callSoon(() => {
          order.push("a");
          loop.callSoon(() => {
            order.push("c");
            done();
          });
        });
        loop.callSoon(() => order.push("b"));
      }),
  );
  assert.equal(order, ["a", "b", "c"]);
});

test("many cancelled timers are dropped, and the rest still fire in order", async () => {
  const fired: number[] = [];
  let expected: number[] = [];
  await withLoop(async (loop) => {
    const timers = Array.from({ length: 1000 }, (_, i) =>
      loop.callLater(1 + (i % 7), () => fired.push(i)),
    );
    timers.forEach((timer, i) => i % 10 !== 0 && timer.cancel());
    expected = timers
      .map((timer, i) => ({ timer, i }))
      .filter(({ timer }) => !timer.cancelled)
      .sort((a, b) => a.timer.when - b.timer.when || a.timer.sequence - b.timer.sequence)
      .map(({ i }) => i);
    await loop.sleep(20);
  });
  assert.is(fired.length, 100);
  assert.equal(fired, expected);
});

test("run() settles with main; a callback that throws rejects it", async () => {
  assert.is(await withLoop(async (loop) => (await loop.sleep(1), 42)), 42);
  try {
    await withLoop(async (loop) => {
      loop.callSoon(() => {
        throw new Error("bug in a callback");
      });
      await loop.sleep(1000);
    });
    assert.unreachable("run() should have rejected");
  } catch (error) {
    assert.is((error as Error).message, "bug in a callback");
  }
});

test("one thread serves and fetches: 200 clients, each echoed back, nothing left open", async () => {
  const before = openFds();
  const CLIENTS = 200;
  const replies = await withLoop(async (loop) => {
    const [server, port] = listening();
    // The server: a persistent reader on the listener, and one per connection.
    loop.addReader(server, () => {
      for (;;) {
        let conn: Socket;
        try {
          [conn] = server.accept();
        } catch {
          return; // EAGAIN: no more waiting connections
        }
        conn.setBlocking(false);
        loop.addReader(conn, () => {
          const data = conn.recv(4096);
          if (data.length === 0) {
            loop.removeReader(conn);
            conn.close();
          } else conn.send(data);
        });
      }
    });
    const client = async (i: number) => {
      const sock = new Socket();
      sock.setBlocking(false);
      try {
        await loop.connect(sock, ["127.0.0.1", port]);
        await loop.sendAll(sock, Buffer.from(`hello ${i}`));
        return (await loop.recv(sock, 100)).toString();
      } finally {
        sock.close();
      }
    };
    const answers = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    await loop.sleep(20); // the server sees each client's end of file and closes its side
    loop.removeReader(server);
    server.close();
    assert.is(loop.watching, 0, "every watcher removed");
    return answers;
  });
  assert.equal(
    replies,
    Array.from({ length: CLIENTS }, (_, i) => `hello ${i}`),
  );
  assert.is(openFds(), before, "no fd left open");
});

test("waiting again on a socket just read costs no change in the kernel", async () => {
  const selector = new CountingSelector();
  await withLoop(async (loop) => {
    const [reader, writer] = socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd));
    reader!.setBlocking(false);
    let received = 0;
    for (let i = 0; i < 50; i++) {
      loop.callSoon(() => writer!.send(Buffer.from("x")));
      received += (await loop.recv(reader!, 10)).length;
    }
    assert.is(received, 50);
    assert.ok(selector.changes <= 2, `${selector.changes} changes for 50 waits`);
    reader!.close();
    writer!.close();
  }, new EventLoop(selector));
});

test("callbacks get the argument they were added with: one function serves every fd", async () => {
  const seen: string[] = [];
  await withLoop(async (loop) => {
    // One shared function and an object per connection, as a server with 10,000 of them does,
    // instead of a closure per connection.
    const pairs = Array.from({ length: 3 }, (_, i) => {
      const [reader, writer] = socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd));
      reader!.setBlocking(false);
      return { name: `conn ${i}`, reader: reader!, writer: writer! };
    });
    type Pair = (typeof pairs)[number];
    const onReadable = (pair: Pair) => {
      seen.push(`${pair.name}: ${pair.reader.recv(10).toString()}`);
      loop.removeReader(pair.reader);
    };
    for (const pair of pairs) loop.addReader(pair.reader, onReadable, pair);
    pairs[1]!.writer.send(Buffer.from("b"));
    pairs[0]!.writer.send(Buffer.from("a"));
    loop.callSoon((word: string) => seen.push(`soon: ${word}`), "first");
    loop.callLater(1, (word: string) => seen.push(`later: ${word}`), "second");
    loop.callLater(1, (pair: Pair) => pair.writer.send(Buffer.from("c")), pairs[2]!);
    // Until every reader has had its turn. Not one sleep of 30 ms: on a busy machine the 1 ms timer
    // and the sleep's can fall due in the same round, and the sleep ends before the loop has
    // polled again and seen "c" (it did, in a run beside other test runs).
    for (const deadline = loop.time() + 10_000; loop.watching > 0 && loop.time() < deadline;) {
      await loop.sleep(5);
    }
    assert.is(loop.watching, 0);
    for (const pair of pairs) (pair.reader.close(), pair.writer.close());
  });
  assert.equal(seen.slice(0, 1), ["soon: first"]);
  assert.equal([...seen].sort(), [
    "conn 0: a",
    "conn 1: b",
    "conn 2: c",
    "later: second",
    "soon: first",
  ]);
});

test("a watcher the selector refuses leaves the loop as it was", async () => {
  const opened: Socket[] = [];
  try {
    await withLoop(async (loop) => {
      const [reader, writer] = socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd));
      opened.push(reader!, writer!);
      let high = new Socket();
      opened.push(high);
      while (high.fileno() < 1024) opened.push((high = new Socket()));
      try {
        loop.addReader(high, () => {});
        assert.unreachable("select() takes no fd of FD_SETSIZE or more");
      } catch (error) {
        assert.instance(error, RangeError);
      }
      assert.is(loop.watching, 0, "the refused fd is not counted as watched");
      assert.not.ok(loop.removeReader(high), "and has no reader to remove");
      // The loop still works, and a low fd is watched as usual.
      const got = new Promise<string>((resolve) =>
        loop.addReader(reader!, () => {
          loop.removeReader(reader!);
          resolve(reader!.recv(10).toString());
        }),
      );
      writer!.send(Buffer.from("ok"));
      assert.is(await got, "ok");
    }, new EventLoop(new SelectSelector()));
  } finally {
    for (const sock of opened) sock.close();
  }
});

test("a new socket on a closed one's fd number is watched afresh", async () => {
  await withLoop(async (loop) => {
    const [server, port] = listening();
    const first = new Socket();
    first.connect(["127.0.0.1", port]);
    const [a] = server.accept();
    a.setBlocking(false);
    first.send(Buffer.from("1"));
    await loop.readable(a); // removal of its watcher is left for the next round...
    const fd = a.fileno();
    a.close(); // ...and the kernel forgets the fd now
    first.close();
    const second = new Socket();
    second.connect(["127.0.0.1", port]);
    const [b] = server.accept();
    server.close();
    b.setBlocking(false);
    assert.is(b.fileno(), fd, "the kernel gave the same number again");
    loop.callLater(5, () => second.send(Buffer.from("2")));
    assert.is((await loop.recv(b, 10)).toString(), "2");
    b.close();
    second.close();
  });
});

test("withTimeout: a silent peer times out with ETIMEDOUT, and nothing stays watched", async () => {
  await withLoop(async (loop) => {
    const [server, port] = listening();
    const sock = new Socket();
    sock.setBlocking(false);
    await loop.connect(sock, ["127.0.0.1", port]);
    const started = loop.time();
    try {
      await loop.withTimeout(50, (signal) => loop.recv(sock, 100, signal));
      assert.unreachable("recv should have timed out");
    } catch (error) {
      assert.instance(error, TimeoutError);
      assert.is((error as TimeoutError).code, "ETIMEDOUT");
    }
    assert.ok(loop.time() - started >= 49, "it waited the timeout");
    assert.is(loop.watching, 0);
    sock.close();
    server.close();
  });
});

test("an aborted wait rejects with CancelledError and stops watching", async () => {
  await withLoop(async (loop) => {
    const [server, port] = listening();
    const sock = new Socket();
    sock.setBlocking(false);
    await loop.connect(sock, ["127.0.0.1", port]);
    const controller = new AbortController();
    loop.callLater(10, () => controller.abort());
    const outcomes = await Promise.allSettled([
      loop.recv(sock, 100, controller.signal),
      loop.sleep(10_000, controller.signal),
    ]);
    for (const outcome of outcomes) {
      assert.is(outcome.status, "rejected");
      assert.instance((outcome as PromiseRejectedResult).reason, CancelledError);
    }
    assert.is(loop.watching, 0);
    sock.close();
    server.close();
  });
});

test("a signal has one abort listener however many waits it can cancel, and none once they end", async () => {
  await withLoop(async (loop) => {
    const pairs = Array.from({ length: 3 }, () =>
      socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd)),
    );
    for (const [reader] of pairs) reader!.setBlocking(false);
    const listeners = (signal: AbortSignal) => getEventListeners(signal, "abort").length;

    // Waits that end well: the listener goes with the last of them.
    const controller = new AbortController();
    const waits = [
      ...pairs.map(([reader]) => loop.readable(reader!, controller.signal)),
      loop.sleep(5, controller.signal),
    ];
    assert.is(listeners(controller.signal), 1);
    for (const [, writer] of pairs) writer!.send(Buffer.from("x"));
    await Promise.all(waits);
    assert.is(listeners(controller.signal), 0);

    // Waits that are cancelled: each rejects once, with the signal's reason, and stops watching.
    const cancel = new AbortController();
    const cancelled = Promise.allSettled([
      ...pairs.map(([, writer]) => loop.readable(writer!, cancel.signal).then(() => "readable")),
      loop.sleep(10_000, cancel.signal),
    ]);
    // The writers are writable, not readable: these wait until the abort.
    loop.callLater(5, () => cancel.abort());
    const outcomes = await cancelled;
    assert.ok(outcomes.every((outcome) => outcome.status === "rejected"));
    for (const outcome of outcomes) {
      assert.instance((outcome as PromiseRejectedResult).reason, CancelledError);
    }
    assert.is(listeners(cancel.signal), 0);
    assert.is(loop.watching, 0);
    assert.is(loop.timers, 0);
    for (const pair of pairs) for (const sock of pair) sock!.close();
  });
});

test("withTimeout leaves no timer and no listener behind, however work ends", async () => {
  await withLoop(async (loop) => {
    const [reader, writer] = socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd));
    reader!.setBlocking(false);
    const parent = new AbortController();
    const listeners = () => getEventListeners(parent.signal, "abort").length;

    // Ends well: a hundred at once, under one parent that has a single listener meanwhile.
    const works = Array.from({ length: 100 }, () =>
      loop.withTimeout(10_000, (signal) => loop.sleep(1, signal), parent.signal),
    );
    assert.is(listeners(), 1);
    await Promise.all(works);
    assert.is(listeners(), 0);
    assert.is(loop.timers, 0);

    // Times out: ETIMEDOUT, and work's signal says so too.
    let seen: AbortSignal | null = null;
    try {
      await loop.withTimeout(
        5,
        (signal) => ((seen = signal), loop.readable(reader!, signal)),
        parent.signal,
      );
      assert.unreachable("it should have timed out");
    } catch (error) {
      assert.is((error as TimeoutError).code, "ETIMEDOUT");
      assert.is(seen!.reason, error);
    }
    assert.is(listeners(), 0);
    assert.is(loop.timers, 0);
    assert.is(loop.watching, 0);

    // The parent aborts: work's waits reject with its reason, and the timer goes.
    const why = new Error("stop the crawl");
    loop.callLater(5, () => parent.abort(why));
    try {
      await loop.withTimeout(10_000, (signal) => loop.readable(reader!, signal), parent.signal);
      assert.unreachable("the parent's abort should have ended it");
    } catch (error) {
      assert.is(error, why);
    }
    assert.is(loop.timers, 0);
    assert.is(loop.watching, 0);

    // A parent aborted already: work's signal starts aborted.
    const aborted = await loop.withTimeout(1000, async (signal) => signal.aborted, parent.signal);
    assert.ok(aborted);
    assert.is(loop.timers, 0);
    reader!.close();
    writer!.close();
  });
});

test("two waits for the same event on one socket are refused, not lost", async () => {
  await withLoop(async (loop) => {
    const [server, port] = listening();
    const sock = new Socket();
    sock.setBlocking(false);
    await loop.connect(sock, ["127.0.0.1", port]);
    const controller = new AbortController();
    const first = loop.readable(sock, controller.signal);
    try {
      await loop.readable(sock);
      assert.unreachable("a second reader should be refused");
    } catch (error) {
      assert.match((error as Error).message, /already has a reader/);
    }
    controller.abort();
    await first.catch(() => {});
    sock.close();
    server.close();
  });
});

test("a signal wakes a loop asleep in select(), and its handler runs as a callback", async () => {
  const SIGWINCH = constants.signals.SIGWINCH; // ignored by default: harmless if it came late
  await withLoop(async (loop) => {
    const [server] = listening(); // something to watch, so that the loop sleeps in the kernel
    loop.addReader(server, () => {});
    const got = new Promise<number>((resolve) => loop.addSignalHandler(SIGWINCH, () => resolve(1)));
    spawn("sh", ["-c", `sleep 0.1; kill -WINCH ${process.pid}`], { stdio: "ignore" });
    assert.is(await got, 1);
    assert.ok(loop.removeSignalHandler(SIGWINCH));
    loop.removeReader(server);
    server.close();
  });
});

test("worker threads wake the loop through a pipe: tasks answered, errors passed back", async () => {
  const before = openFds();
  await withLoop(async (loop) => {
    const pool = new WorkerPool(loop, new URL("./fixtures/tasks.ts", import.meta.url), 2);
    const [server] = listening(); // so that the loop sleeps in epoll while the workers work
    loop.addReader(server, () => {});
    try {
      const doubled = await Promise.all(
        Array.from({ length: 20 }, (_, i) => pool.run<number>("double", i)),
      );
      assert.equal(
        doubled,
        Array.from({ length: 20 }, (_, i) => 2 * i),
      );
      try {
        await pool.run("fail", "on purpose");
        assert.unreachable("the task should have failed");
      } catch (error) {
        assert.is((error as Error).message, "failed on purpose");
      }
      assert.is(pool.pending, 0);
    } finally {
      loop.removeReader(server);
      server.close();
      await pool.close();
    }
  });
  assert.is(openFds(), before, "the pool's pipes are closed");
});

test("a pool sends a round's tasks to a worker as one message, and takes the answers back in order", async () => {
  // The pool's messages (arrays: its batches), counted where they leave this thread; a Worker's
  // own start-up messages are not arrays.
  let messages = 0;
  const postMessage = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (this: MessagePort, ...args) {
    if (Array.isArray(args[0])) messages++;
    return postMessage.apply(this, args);
  };
  try {
    await withLoop(async (loop) => {
      const pool = new WorkerPool(loop, new URL("./fixtures/tasks.ts", import.meta.url), 2);
      try {
        // One round: twenty tasks, of which one fails, over the two workers.
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            i === 7 ? pool.run("fail", "in a batch") : pool.run<number>("double", i),
          ),
        );
        assert.is(messages, 2, "one message per worker for the round's twenty tasks");
        for (const [i, outcome] of outcomes.entries()) {
          if (i === 7) {
            assert.is(outcome.status, "rejected");
            assert.is((outcome as PromiseRejectedResult).reason.message, "failed in a batch");
          } else {
            assert.equal(outcome, { status: "fulfilled", value: 2 * i });
          }
        }
        // The next round's task is a message of its own.
        assert.is(await pool.run<number>("double", 21), 42);
        assert.is(messages, 3);
        assert.is(pool.pending, 0);
      } finally {
        await pool.close();
      }
    });
  } finally {
    MessagePort.prototype.postMessage = postMessage;
  }
});

test("a pool given no loop answers through Node's own loop", async () => {
  const before = openFds();
  const pool = new WorkerPool(null, new URL("./fixtures/tasks.ts", import.meta.url), 2);
  try {
    const doubled = await Promise.all(
      Array.from({ length: 10 }, (_, i) => pool.run<number>("double", i)),
    );
    assert.equal(
      doubled,
      Array.from({ length: 10 }, (_, i) => 2 * i),
    );
    try {
      await pool.run("fail", "here too");
      assert.unreachable("the task should have failed");
    } catch (error) {
      assert.is((error as Error).message, "failed here too");
    }
  } finally {
    await pool.close();
  }
  assert.is(openFds(), before, "nothing left open");
});

test("a Waker wakes the loop from its own thread too, and coalesces wake-ups", async () => {
  await withLoop(async (loop) => {
    let wakeUps = 0;
    const waker = new Waker(loop, () => wakeUps++);
    waker.wake();
    waker.wake();
    waker.wake();
    await loop.sleep(5);
    assert.is(wakeUps, 1);
    waker.close();
  });
});

test("Queue: a bounded put waits for a get, join waits for taskDone, a get can be cancelled", async () => {
  await withLoop(async (loop) => {
    const queue = new Queue<number>(2);
    const taken: number[] = [];
    const producer = (async () => {
      for (let i = 0; i < 5; i++) await queue.put(i);
    })();
    await loop.sleep(1);
    assert.is(queue.size, 2, "the producer waits while the queue is full");
    assert.throws(
      () => queue.putNowait(9),
      (error: unknown) => error instanceof QueueFull,
    );
    const workers = [1, 2].map(async () => {
      for (;;) {
        const item = await queue.get();
        await loop.sleep(1);
        taken.push(item);
        queue.taskDone();
      }
    });
    await producer;
    await queue.join();
    assert.equal(
      taken.sort((a, b) => a - b),
      [0, 1, 2, 3, 4],
    );
    const controller = new AbortController();
    const waiting = queue.get(controller.signal);
    controller.abort(new CancelledError("no more"));
    try {
      await waiting;
      assert.unreachable("the get should have been cancelled");
    } catch (error) {
      assert.is((error as Error).message, "no more");
    }
    void workers; // they wait in get() for ever; the loop ends with main
  });
});

test("native: watchSignals checks its signals; write() fills a pipe and says how much", () => {
  assert.throws(
    () => watchSignals([9]),
    (e: unknown) => e instanceof RangeError,
  );
  assert.throws(
    () => watchSignals("SIGINT" as never),
    (e: unknown) => e instanceof TypeError,
  );
  assert.throws(
    () => write(1, "text" as never),
    (e: unknown) => e instanceof TypeError,
  );
  const [readFd, writeFd] = pipe();
  assert.is(write(writeFd, Buffer.from("hello")), 5);
  assert.is(read(readFd, 10).toString(), "hello");
  close(readFd);
  assert.throws(
    () => write(writeFd, Buffer.from("x")),
    (e: unknown) => e instanceof BrokenPipeError,
  );
  close(writeFd);
});

test.run();
