// 3_selectors: select, poll and epoll (kqueue on macOS) doing the same wait, timed as the number
// of idle fds grows; and select refusing an fd numbered 1024 or more, which the others take.
//
// Lecture: "Различия между командами": select is the oldest and watches only 1024 fds, poll many
//   more, and epoll and kqueue are better still.
// Builds on: 2_good_socket, where every backend did the same job for one socket. What changes:
//   thousands of fds are registered, one of them is ready, and we time the wait itself.
// Leaves out: real connections. Idle UDP sockets stand in for clients that say nothing, which is
//   what most of a busy server's connections do at any moment; 10,000 real ones are c10k.
// Run: pnpm run 3_selectors [--max N] [--svg FILE]
import {
  AF_INET,
  AF_UNIX,
  EVENT_READ,
  EpollSelector,
  FD_SETSIZE,
  KqueueSelector,
  PollSelector,
  SOCK_DGRAM,
  SOCK_STREAM,
  SelectSelector,
  Socket,
  availableSelectors,
  socketpair,
} from "@async-from-scratch/native";
import { chartFlags, drawChart, startLesson } from "@async-from-scratch/shared";

const args = startLesson("3_selectors", {
  max: {
    type: "integer",
    default: 10_000,
    min: 10,
    // Every idle fd is an open socket, and a process may hold only so many (`ulimit -n`; Node
    // raises its soft limit to the hard one at startup). 15,000 and Node's own few dozen stay
    // under the 20,000 of the machine this was written on; a lower limit fails with EMFILE.
    max: 15_000,
    help: "the largest number of idle fds to wait on",
  },
  ...chartFlags(),
});

// Oldest first, as the lecture lists them. epoll exists on Linux only, kqueue on macOS and BSD.
const backends = (
  [
    ["select", SelectSelector],
    ["poll", PollSelector],
    ["epoll", EpollSelector],
    ["kqueue", KqueueSelector],
  ] as const
).filter(([name]) => availableSelectors.includes(name));
const names = backends.map(([name]) => name);

// F = 10, 100, 900, 10000, those below --max, then --max itself. 900, not 1000: Node holds a few
// dozen fds of its own, so 1000 idle sockets would reach fd numbers past 1023 on one machine and
// not on another, and select's cell would depend on which.
const sizes = [...[10, 100, 900, 10_000].filter((size) => size < args.max), args.max];

// How many waits to time: fixed, not measured, so every run does the same work. About 500,000
// fd checks per cell for select and poll, and never fewer than 500 waits, so that epoll's figure
// is not a handful of samples. They are timed in BATCHES batches, and a cell shows the quickest
// batch's average: a moment in which another program had the core lands in one batch, and is
// not what a wait costs.
const waitsFor = (size: number) => Math.max(500, Math.round(500_000 / size));
const BATCHES = 5;

const opened: Socket[] = [];
function open(sock: Socket): Socket {
  opened.push(sock);
  return sock;
}

// An fd that is always ready to read: a socketpair end with one byte written into the other end
// and never read. Every wait returns at once, with exactly this fd.
function readySocket(): Socket {
  const [reader, writer] = socketpair().map((fd) => open(new Socket(AF_UNIX, SOCK_STREAM, fd)));
  writer!.send(Buffer.from("!"));
  return reader!;
}

console.log(
  `${names.join(", ")} (all that ${process.platform} has), each waiting for 1 ready fd among F idle ones`,
);
console.log("  idle: unconnected UDP sockets, where nothing ever arrives");
console.log("  ready: a socketpair end with a byte waiting, so every wait returns at once");
console.log(`µs per wait: \`waits\` waits in ${BATCHES} batches, the quickest batch's average`);

try {
  // Opened first, so that its fd is low and select can take it in every row.
  const ready = readySocket();
  const idle = Array.from({ length: args.max }, () => open(new Socket(AF_INET, SOCK_DGRAM)));

  const microseconds = new Map<string, (number | undefined)[]>(names.map((name) => [name, []]));
  for (const size of sizes) {
    const waits = waitsFor(size);
    for (const [name, Selector] of backends) {
      const selector = new Selector();
      try {
        selector.register(ready, EVENT_READ);
        try {
          for (const sock of idle.slice(0, size)) selector.register(sock, EVENT_READ);
        } catch (error) {
          // select stops at the first fd that does not fit in its bitmap; shown on its own below.
          if (!(error instanceof RangeError && name === "select")) throw error;
          microseconds.get(name)!.push(undefined);
          continue;
        }
        // The 1 s timeout is only a safety net: a wait that did not return at once throws here.
        const wait = () => {
          const woke = [...selector.select(1)].length;
          if (woke !== 1) throw new Error(`${name}: a wait woke for ${woke} fds, not 1`);
        };
        // The first waits pay for compiling this loop and for cold caches, so they are not timed.
        for (let i = 0; i < Math.ceil(waits / 10); i++) wait();
        const perBatch = Math.ceil(waits / BATCHES);
        let quickest = Infinity;
        for (let batch = 0; batch < BATCHES; batch++) {
          const start = performance.now();
          for (let i = 0; i < perBatch; i++) wait();
          quickest = Math.min(quickest, ((performance.now() - start) * 1000) / perBatch);
        }
        microseconds.get(name)!.push(quickest);
      } finally {
        selector.close();
      }
    }
  }

  const cell = (us: number | undefined) =>
    us === undefined ? "refused: fd ≥ FD_SETSIZE" : `${us.toFixed(1)} µs`;
  const table = [
    ["F", "waits", ...names],
    ...sizes.map((size, row) => [
      String(size),
      String(waitsFor(size)),
      ...names.map((name) => cell(microseconds.get(name)![row])),
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table) {
    console.log(row.map((text, column) => text.padStart(widths[column]! + 2)).join(""));
  }

  // An fd of FD_SETSIZE or more. With the table's idle sockets still open, the first ready socket
  // is already past it; after a small --max, the ones before it fill the gap.
  let high = readySocket();
  while (high.fileno() < FD_SETSIZE) high = readySocket();
  console.log(
    `\nselect's fd_set is a bitmap of FD_SETSIZE = ${FD_SETSIZE} bits; fd ${high.fileno()} is past it:`,
  );
  for (const [name, Selector] of backends) {
    const selector = new Selector();
    try {
      selector.register(high, EVENT_READ);
      const woke = [...selector.select(1)].map(([key]) => `fd ${key.fd}`);
      console.log(`  ${name.padEnd(7)} took it, and the wait woke for ${woke.join(", ")}`);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      console.log(`  ${name.padEnd(7)} refused it: ${error.name}: ${error.message}`);
    } finally {
      selector.close();
    }
  }

  // Each line quotes the figures it rests on; the reason after the colon is the mechanism.
  const why: Record<string, string> = {
    select:
      "every call rebuilds a bitmap that the kernel scans, and it has no bit for an fd above 1023",
    poll: "no fd limit, but the kernel scans the whole list on every call",
    epoll: "the kernel keeps the interest list, so idle fds cost a wait nothing",
    kqueue: "as with epoll, the kernel keeps the list, so idle fds cost a wait nothing",
  };
  console.log("\nwhat the figures say:");
  for (const name of names) {
    const row = microseconds.get(name)!;
    const taken = row.flatMap((us, i) => (us === undefined ? [] : [i]));
    const refused = sizes.filter((_, i) => row[i] === undefined);
    const figures = [...new Set([taken[0], taken.at(-1)])]
      .filter((i) => i !== undefined)
      .map((i) => `${row[i]!.toFixed(1)} µs at F = ${sizes[i]}`);
    if (refused.length > 0) {
      figures.push(`refused at F = ${refused[0]}${refused.length > 1 ? " and up" : ""}`);
    }
    console.log(`  ${name.padEnd(7)} ${figures.join(", ")}: ${why[name]}`);
  }

  // The table as a picture (--svg names the file), drawn after every wait was timed.
  // select's refused cells are no points: its line ends at the last F it took.
  const measured = names.flatMap((backend) =>
    sizes.flatMap((fds, i) => {
      const us = microseconds.get(backend)![i];
      return us === undefined ? [] : [{ backend, fds, us }];
    }),
  );
  console.log(
    await drawChart(args.svg, ({ selectorsChart }) =>
      selectorsChart("3_selectors", measured, FD_SETSIZE),
    ),
  );
} finally {
  for (const sock of opened) sock.close();
}
