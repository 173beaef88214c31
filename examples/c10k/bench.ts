// bench:c10k: the scratch server beside Node's own `net` and nginx, on the same machine, with the
// same client: requests per second at 10,000 concurrent keep-alive connections, and the memory
// each server spends per connection.
//
// For each server, in turn: start it on a free port, warm it up (200 connections busy for a
// second, so that the JIT has compiled the hot paths before anything is measured), note its
// resident memory, open N connections with one request each, note the memory again (the
// difference / N is the memory per connection), then keep all N busy for --seconds, each asking
// again as soon as it is answered, and count the replies. The CPU time of the server and of the
// client over that window says which of them held the rate down: on a machine with two cores
// each gets one, and the one near 100% of its core is the bottleneck.
//
// Run: pnpm run bench:c10k [--connections N] [--seconds S] [--rounds R] [--servers LIST]
//   [--svg FILE]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Socket, threadStackSize } from "@async-from-scratch/native";
import { buildRequest, chartFlags, drawChart, startLesson } from "@async-from-scratch/shared";
import type { MemoryBar } from "@async-from-scratch/shared/chart";
import { EventLoop } from "@async-from-scratch/shared/loop";
import { Crowd, outcomesInWords } from "./client.ts";
import {
  cpuMs,
  limitProblems,
  median,
  openFds,
  percent,
  printTable,
  readLimits,
  residentBytes,
  startServer,
} from "./common.ts";
import { BODY } from "./hello.ts";

const NGINX = "/usr/sbin/nginx";
const SERVERS = ["scratch", "node", "nginx"] as const;
type Kind = (typeof SERVERS)[number];

const args = startLesson("bench:c10k", {
  connections: {
    type: "integer",
    default: 10_000,
    min: 1,
    max: 1_000_000,
    help: "concurrent keep-alive connections",
  },
  seconds: {
    type: "integer",
    default: 5,
    min: 1,
    max: 600,
    help: "how long each server is loaded",
  },
  rounds: {
    type: "integer",
    default: 1,
    min: 1,
    max: 20,
    help: "run every server this many times, in turn, and report the median",
  },
  servers: {
    type: "string",
    default: SERVERS.join(","),
    help: "which servers, comma-separated: scratch, node, nginx (all of them by default; nginx only where it is installed)",
  },
  ...chartFlags(),
});

const N = args.connections;
const problems = limitProblems(N, readLimits(), openFds() + 16);
if (problems.length > 0) {
  for (const problem of problems) console.error(`bench:c10k: ${problem}`);
  process.exit(1);
}
const asked = args.servers.split(",").map((name) => name.trim());
for (const name of asked) {
  if (!(SERVERS as readonly string[]).includes(name)) {
    console.error(`bench:c10k: unknown server '${name}': use ${SERVERS.join(", ")}`);
    process.exit(2);
  }
}
const kinds = SERVERS.filter((kind) => asked.includes(kind));
const skipped = kinds.includes("nginx") && !existsSync(NGINX);
const servers = kinds.filter((kind) => kind !== "nginx" || !skipped);

interface Running {
  port: number;
  pids: () => number[];
  stop(): Promise<void>;
}

interface Result {
  requestsPerSecond: number;
  bytesPerConnection: number;
  serverCpu: number; // share of one core over the load window
  clientCpu: number;
  serverMicroseconds: number; // the server's CPU time per request
  problems: string[];
}

const label: Record<Kind, string> = {
  scratch: "scratch (ours)",
  node: "node net",
  nginx: "nginx",
};

console.log(
  `bench:c10k: ${N} keep-alive connections from one client process, each busy for ` +
    `${args.seconds} s with one request in flight; ${args.rounds} round(s)`,
);
if (skipped) console.log(`  nginx: not installed (${NGINX}), skipped`);

const results = new Map<Kind, Result[]>(servers.map((kind) => [kind, []]));
for (let round = 0; round < args.rounds; round++) {
  for (const kind of servers) {
    const result = await measure(kind);
    results.get(kind)!.push(result);
    const line =
      `  ${label[kind].padEnd(15)} ${Math.round(result.requestsPerSecond)} requests/s, ` +
      `${kib(result.bytesPerConnection)} per connection, CPU: server ` +
      `${percent(result.serverCpu)}, client ${percent(result.clientCpu)} of one core, ` +
      `server ${result.serverMicroseconds.toFixed(1)} µs per request`;
    console.log(line);
    for (const problem of result.problems) console.log(`    ${problem}`);
  }
}

// The median of each figure over the rounds: a busy neighbour on the machine skews one round,
// not the median of several.
const summary = new Map(
  [...results].map(([kind, runs]) => [
    kind,
    {
      rate: median(runs.map((run) => run.requestsPerSecond)),
      bytes: median(runs.map((run) => run.bytesPerConnection)),
      serverCpu: median(runs.map((run) => run.serverCpu)),
      clientCpu: median(runs.map((run) => run.clientCpu)),
      microseconds: median(runs.map((run) => run.serverMicroseconds)),
    },
  ]),
);
const node = summary.get("node");
const rows = [
  [
    "server",
    "requests/s",
    "vs node",
    "memory/conn",
    "vs node",
    "server CPU",
    "client CPU",
    "server CPU/request",
  ],
  ...[...summary].map(([kind, s]) => [
    label[kind],
    String(Math.round(s.rate)),
    node ? `${(s.rate / node.rate).toFixed(2)}x` : "-",
    kib(s.bytes),
    node ? `${(s.bytes / node.bytes).toFixed(2)}x` : "-",
    percent(s.serverCpu),
    percent(s.clientCpu),
    `${s.microseconds.toFixed(1)} µs`,
  ]),
];
console.log(args.rounds > 1 ? `\nmedians of ${args.rounds} rounds:` : "");
printTable(rows);
console.log(
  "CPU: a share of one core over the load window; the process near 100% held the rate down,\n" +
    "and when it is the client, every server is faster than its figure here. CPU per request is\n" +
    "the server's own cost, whatever held the rate: on a busy machine, compare that.",
);

// The memory per connection as a picture, beside the stack a thread per connection would reserve
// (--svg names the file). The charting library is loaded only now: every server has stopped, and
// no loop of ours is running, so Node's own promises, which Vega's rendering is, can run.
const bars: MemoryBar[] = [...summary].map(([kind, s]) => ({
  server: label[kind],
  bytes: s.bytes,
  how: "measured",
}));
bars.push({ server: "a thread's stack", bytes: threadStackSize(), how: "computed" });
console.log(await drawChart(args.svg, ({ memoryChart }) => memoryChart("c10k", bars, N)));

// ---- one server, measured ---------------------------------------------------------------------

async function measure(kind: Kind): Promise<Result> {
  const server = await start(kind);
  const loop = new EventLoop();
  const address: [string, number] = ["127.0.0.1", server.port];
  const request = buildRequest(`http://127.0.0.1:${server.port}/`, { httpVersion: "1.1" });
  const problems: string[] = [];
  const check = (crowd: Crowd, what: string) => {
    const failed = [...crowd.outcomes()].filter(([outcome, n]) => outcome !== "replied" && n > 0);
    if (failed.length > 0) problems.push(`${what}: ${outcomesInWords(failed)}`);
  };
  try {
    // Warm up: the JIT compiles the hot paths now, so that neither the memory baseline nor the
    // rate pays for it.
    const warm = new Crowd(loop, address, request);
    await loop.run(warm.open(200));
    await loop.run(warm.load(1000));
    check(warm, "warm-up");
    warm.closeAll();
    await loop.run(loop.sleep(500)); // the server sees the closes and lets go of them
    const before = resident(server.pids());

    const crowd = new Crowd(loop, address, request, { timeoutMs: 30_000 });
    await loop.run(crowd.open(N));
    await loop.run(crowd.requestAll());
    await loop.run(loop.sleep(500));
    const peak = resident(server.pids());
    const held = crowd.openNow;

    const serverCpuBefore = server.pids().reduce((sum, pid) => sum + cpuMs(pid), 0);
    const clientCpuBefore = process.cpuUsage();
    const started = loop.time();
    const replies = await loop.run(crowd.load(args.seconds * 1000));
    const wallMs = Math.min(loop.time() - started, args.seconds * 1000);
    const serverCpu = server.pids().reduce((sum, pid) => sum + cpuMs(pid), 0) - serverCpuBefore;
    const client = process.cpuUsage(clientCpuBefore);
    check(crowd, "measured run");
    if (held < N) problems.push(`only ${held} of ${N} connections were open at the peak`);
    crowd.closeAll();
    return {
      requestsPerSecond: replies / args.seconds,
      bytesPerConnection: (peak - before) / Math.max(1, held),
      serverCpu: serverCpu / wallMs,
      clientCpu: (client.user + client.system) / 1000 / wallMs,
      serverMicroseconds: (serverCpu * 1000) / Math.max(1, replies),
      problems,
    };
  } finally {
    loop.close();
    await server.stop();
  }
}

function resident(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + residentBytes(pid), 0);
}

async function start(kind: Kind): Promise<Running> {
  if (kind === "nginx") return startNginx();
  const running = await startServer(kind === "scratch" ? "./server.ts" : "./node_server.ts", []);
  return {
    port: running.port,
    pids: () => [running.pid],
    async stop() {
      await running.stop();
    },
  };
}

// nginx, as a reader would run it in front of a site: one worker process (this machine's other
// core is the client's), epoll, keep-alive without a request limit, the same body. Our own
// instance, with a config and a prefix in a temporary folder, stopped when we are done.
async function startNginx(): Promise<Running> {
  const prefix = mkdtempSync(join(tmpdir(), "c10k-nginx-"));
  const port = freePort();
  const body = BODY.toString().replace(/\n$/, "\\n");
  writeFileSync(
    join(prefix, "nginx.conf"),
    `worker_processes 1;
worker_rlimit_nofile ${N + 1000};
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events {
  use epoll;
  worker_connections ${N + 1000};
}
http {
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      default_type "text/plain; charset=utf-8";
      return 200 "${body}";
    }
  }
}
`,
  );
  const master = spawn(NGINX, ["-p", prefix, "-c", join(prefix, "nginx.conf")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => master.once("exit", () => resolve()));
  const kill = () => master.kill();
  process.on("exit", kill);
  const workers = () => childrenOf(master.pid!);
  // Ready when it accepts a connection and its worker is running.
  for (let tries = 0; ; tries++) {
    if (workers().length > 0 && accepts(port)) break;
    if (tries === 200 || master.exitCode !== null) {
      master.kill();
      throw new Error(`nginx did not start: ${readFileSync(join(prefix, "error.log"), "utf8")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    pids: () => [master.pid!, ...workers()],
    async stop() {
      master.kill("SIGTERM"); // nginx's fast shutdown
      await exited;
      process.off("exit", kill);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** A port nothing listens on now: bind port 0, read what the kernel gave, close. */
function freePort(): number {
  const sock = new Socket();
  try {
    sock.bind(["127.0.0.1", 0]);
    return sock.getsockname()[1];
  } finally {
    sock.close();
  }
}

function accepts(port: number): boolean {
  const sock = new Socket();
  try {
    sock.connect(["127.0.0.1", port]);
    return true;
  } catch {
    return false;
  } finally {
    sock.close();
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false; // it ended while we looked
      }
    })
    .map(Number);
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KiB`;
}
