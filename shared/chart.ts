// Pictures of what the lessons measure, written as SVG files beside their text output. A lesson
// hands over its figures; this module says how they are drawn, as a Vega-Lite spec, compiles it to
// Vega, and renders it with Vega's own SVG renderer, in Node, with no browser and no canvas.
//
// The road not taken: SVG drawn by hand. A picture with axes, log scales, ticks and a legend is a
// few hundred lines of layout that Vega-Lite has already got right, and a student who wants
// another picture changes a spec of a dozen lines, not a renderer.
//
// Vega takes a second to load (half of it in plain Node, the rest in tsx's loader, which sees each
// of its modules), so the lessons import this module only when they draw, after their
// measurements, with `await import("@async-from-scratch/shared/chart")`: a lesson that draws
// nothing never loads it, and its load time is never inside a measured figure. The tools
// that run on the scratch loop (crawler, bench:c10k) draw after their loop has finished: Vega's
// rendering is a promise, and Node's own promises do not run while that loop sleeps in epoll.
//
// Every mark has a name (a layer's `name`), which Vega writes into the SVG as a class, "NAME_marks",
// and every point of it has an aria-label that lists its fields ("fds: 1000; backend: poll; ...").
// The tests read the series and points back from the SVG by those two.
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { CHART_ROWS, type Span } from "./timeline.ts";

/** out/ in the project, where charts go when --svg names no file (git ignores it). */
export const CHART_DIR = fileURLToPath(new URL("../out", import.meta.url));

/** A picture: its name (the file under out/ is NAME.svg) and its Vega-Lite spec. */
export interface Chart {
  name: string;
  spec: TopLevelSpec;
}

// One look for every chart: a white background (the READMEs are read in dark themes too), and
// labels a little larger than Vega's default 10 px.
const CONFIG = {
  background: "white",
  font: "Helvetica, Arial, sans-serif",
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  title: { fontSize: 14, anchor: "start", subtitleFontSize: 12, subtitleColor: "#555" },
} as const;

// Vega lays text out by its width, which it measures on a canvas when there is one. There is none
// here (node-canvas is a native build with its own download), and without one Vega guesses 0.8 em
// per character, which is nearly twice too wide: legends spread out and labels get cut short.
// Vega lets a program give its own measure (vl-convert, Vega's own converter, does the same);
// ours adds up each character's advance in Helvetica, whose widths Arial and Liberation Sans
// share, from Adobe's font metrics (thousandths of an em, for the characters from " " to "~").
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
  556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
  611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
  667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
  222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  limit?: number;
}
// (vega exports textMetrics, but its type declarations leave it out.)
const { textMetrics } = vega as unknown as {
  textMetrics: { width: (item: TextItem, text: unknown) => number };
};
textMetrics.width = (item, text) => {
  const line = text == null ? "" : String(text).trim();
  let thousandths = 0;
  for (const char of line) thousandths += HELVETICA[(char.codePointAt(0) ?? 0) - 32] ?? 556;
  const size = item.fontSize ?? 11;
  // Bold is about a tenth wider.
  const bold = item.fontWeight === "bold" || Number(item.fontWeight) >= 600 ? 1.1 : 1;
  const width = (thousandths / 1000) * size * bold;
  // A limited label is cut to its limit when drawn; Vega asks again for the cut text.
  return item.limit !== undefined && item.limit > 0 ? Math.min(width, item.limit) : width;
};

// Vega-Lite warns when a spec asks for what it cannot do, and goes on with a guess. For the specs
// in this file that is a mistake in this file: it throws, and the tests find it.
type Logger = NonNullable<NonNullable<Parameters<typeof compile>[1]>["logger"]>;
const complain = (...args: unknown[]): never => {
  throw new Error(`vega-lite: ${args.join(" ")}`);
};
const strict: Logger = {
  level: () => strict,
  error: complain,
  warn: complain,
  info: () => strict,
  debug: () => strict,
};

/** The chart as SVG text. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile({ config: CONFIG, ...spec } as TopLevelSpec, { logger: strict }).spec;
  // renderer "none": the scenegraph is laid out but drawn nowhere; toSVG() writes it as text.
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders the chart and writes it to `file`, or to out/NAME.svg in the project when no file is
 * given; returns the line a lesson prints about it: "chart: out/4_callbacks.svg". The path is
 * shown relative to the current folder when it lies inside it (pnpm runs the lessons in the
 * project's folder), so that the line reads the same on every machine.
 */
export async function writeChart(chart: Chart, file?: string): Promise<string> {
  const path = resolve(file ?? join(CHART_DIR, `${chart.name}.svg`));
  const svg = await renderSvg(chart.spec);
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) && !statSync(path).isFile()) {
    // /dev/stdout, a pipe: written to as it is, never replaced.
    writeFileSync(path, svg);
  } else {
    // Written beside and renamed: a reader (or a second run) never sees half a file.
    const partial = `${path}.${process.pid}.partial`;
    try {
      writeFileSync(partial, svg);
      renameSync(partial, path);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  const shown = relative(process.cwd(), path);
  return `chart: ${shown.startsWith("..") || isAbsolute(shown) ? path : shown}`;
}

// ---- the crawl timeline (0_blocking_socket, 4_callbacks to 7_node_event_loop, crawler) -------

const PHASES = ["connecting", "waiting for the first byte", "reading", "failed"] as const;

/**
 * The picture of a crawl that shared/timeline.ts draws as text, from the same spans: one row per
 * fetch in the order they started, time running left to right, each fetch's phases in colour,
 * and a cross where a fetch failed. Fetches one after another make a staircase; fetches at once
 * stand one above the other.
 */
export function timelineChart(
  name: string,
  spans: readonly Span[],
  /** For a long crawl that kept only its first spans: how many there were, when the last ended. */
  all?: { count: number; endMs: number },
): Chart {
  const rows = [...spans].sort((a, b) => a.startMs - b.startMs);
  const origin = rows[0]?.startMs ?? 0;
  const lastEndMs = all?.endMs ?? Math.max(origin, ...rows.map((span) => span.endMs));
  const totalMs = lastEndMs - origin;
  const count = all?.count ?? rows.length;
  // More rows would make a picture taller than anyone scrolls; the subtitle counts the rest.
  const drawn = rows.slice(0, CHART_ROWS);
  const drawnMs = Math.max(origin, ...drawn.map((span) => span.endMs)) - origin;
  // The row's name is the fetch's label; one fetched twice gets its number beside it, so that two
  // fetches never share a row.
  const seen = new Map<string, number>();
  const segments: Record<string, string | number>[] = [];
  const failures: Record<string, string | number>[] = [];
  drawn.forEach((span, i) => {
    const times = (seen.get(span.label) ?? 0) + 1;
    seen.set(span.label, times);
    const fetch = times === 1 ? span.label : `${span.label} (${times})`;
    const ms = (at: number) => Math.round((at - origin) * 100) / 100;
    const phases: [string, number | undefined, number | undefined][] = [
      [PHASES[0], span.startMs, span.connectedMs ?? span.endMs],
      [PHASES[1], span.connectedMs, span.firstByteMs ?? span.endMs],
      [PHASES[2], span.firstByteMs, span.endMs],
    ];
    // A phase that took no time at all is not drawn: a request on a connection kept alive never
    // connects.
    for (const [phase, from, to] of phases) {
      if (from !== undefined && to !== undefined && to > from)
        segments.push({ row: i, fetch, phase, from: ms(from), to: ms(to) });
    }
    if (span.failed) failures.push({ row: i, fetch, phase: PHASES[3], at: ms(span.endMs) });
  });
  const more = count - drawn.length;
  const fetches = `${count} ${count === 1 ? "fetch" : "fetches"}`;
  const color = {
    field: "phase",
    type: "nominal",
    title: null,
    scale: { domain: [...PHASES], range: ["#f28e2b", "#bab0ac", "#4e79a7", "#e15759"] },
    legend: { orient: "top", direction: "horizontal", gridAlign: "none", symbolType: "square" },
  } as const;
  const y = {
    field: "fetch",
    type: "nominal",
    sort: { field: "row" },
    axis: { title: null, labelLimit: 220 },
  } as const;
  return {
    name,
    spec: {
      title: {
        text: `${name}: ${fetches} over ${(totalMs / 1000).toFixed(2)} s`,
        subtitle:
          more > 0
            ? `one row per fetch, in the order they started; the first ${drawn.length} drawn, ${more} more not`
            : "one row per fetch, in the order they started",
      },
      width: 640,
      height: { step: 14 },
      layer: [
        {
          name: "phases",
          data: { values: segments },
          mark: { type: "bar", height: { band: 0.8 } },
          encoding: {
            y,
            x: {
              field: "from",
              type: "quantitative",
              axis: { title: "ms since the first fetch began", tickCount: 10 },
              // To the end of the last fetch drawn: those not drawn would only squeeze the rest.
              scale: { domain: [0, Math.max(drawnMs, 1)], nice: false },
            },
            x2: { field: "to" },
            color,
          },
        },
        {
          name: "failures",
          data: { values: failures },
          mark: { type: "point", shape: "cross", filled: true, size: 80 },
          encoding: { y, x: { field: "at", type: "quantitative" }, color },
        },
      ],
    } as TopLevelSpec,
  };
}

// ---- memory per connection (bench:c10k) ----------------------------------------------------

/** One bar: a server's memory per connection, or what a thread per connection would reserve. */
export interface MemoryBar {
  server: string;
  bytes: number;
  /** "measured" for a server's resident memory, "computed" for the thread's stack. */
  how: "measured" | "computed";
}

/**
 * Memory per connection, one bar each, on a log scale: the servers measured are a kilobyte or two
 * apart, and a thread's stack is thousands of times more; on a linear scale they would vanish.
 * A figure at or below zero (a collection ran while the connections opened, and the process
 * ended smaller than it began) has no place on a log scale: its bar is drawn empty, and its label
 * says the figure.
 */
export function memoryChart(name: string, bars: readonly MemoryBar[], connections: number): Chart {
  const kibs = bars.map((bar) => bar.bytes / 1024);
  const positive = kibs.filter((kib) => kib > 0);
  // The scale starts at the power of ten below half the smallest figure, and ends a power of ten
  // past the largest, to leave room for its label.
  const low = 10 ** Math.floor(Math.log10(Math.min(...positive, 1) / 2));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...positive, 1) * 3));
  const values = bars.map((bar, i) => ({
    server: bar.server,
    how: bar.how,
    kib: Math.max(low, Math.round(kibs[i]! * 100) / 100),
    shown:
      bar.bytes >= 1024 ** 2
        ? `${(bar.bytes / 1024 ** 2).toFixed(1)} MiB`
        : `${kibs[i]!.toFixed(2)} KiB`,
  }));
  const y = {
    field: "server",
    type: "nominal",
    sort: null,
    axis: { title: null, labelLimit: 260 },
  } as const;
  const x = {
    field: "kib",
    type: "quantitative",
    scale: { type: "log", domain: [low, high] as number[] },
    stack: null,
    axis: {
      title: "KiB per connection (log scale)",
      values: decades(low, high),
      format: ",~g",
      grid: true,
    },
  } as const;
  return {
    name,
    spec: {
      title: {
        text: `${name}: memory per connection, with ${connections} connections open`,
        subtitle: [
          "a server: its resident memory with them open, less before them, over their number;",
          "a thread per connection: the stack the system reserves for each (ulimit -s)",
        ],
      },
      width: 520,
      height: { step: 34 },
      data: { values },
      layer: [
        {
          name: "memory",
          mark: { type: "bar", height: { band: 0.7 } },
          encoding: {
            y,
            x,
            // From the left edge: a log scale has no zero for a bar to start from.
            x2: { value: 0 },
            color: {
              field: "how",
              type: "nominal",
              title: null,
              scale: { domain: ["measured", "computed"], range: ["#4e79a7", "#bab0ac"] },
              legend: {
                orient: "bottom",
                direction: "horizontal",
                labelExpr:
                  "datum.label == 'measured' ? 'measured: resident memory' : 'computed: address space reserved'",
              },
            },
          },
        },
        {
          name: "labels",
          mark: { type: "text", align: "left", dx: 4 },
          encoding: { y, x, text: { field: "shown" } },
        },
      ],
    } as TopLevelSpec,
  };
}

// ---- the wait of each backend against the number of fds (3_selectors) -------------------------

/** One measured wait: the backend, how many idle fds it watched, and µs per wait. */
export interface WaitPoint {
  backend: string;
  fds: number;
  us: number;
}

/**
 * µs per wait against the fds watched, a line per backend, both scales logarithmic: a cost that
 * grows with the fds climbs at 45 degrees, one that does not stays flat. select's line ends where
 * it refused an fd, and a rule marks FD_SETSIZE, the bitmap's size that it cannot pass.
 */
export function selectorsChart(
  name: string,
  points: readonly WaitPoint[],
  fdSetSize: number,
): Chart {
  const backends = [...new Set(points.map((point) => point.backend))];
  // Both axes from the power of ten at or below the smallest figure to the one at or above the
  // largest, a tick at each.
  const range = (values: number[]) => {
    const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const high = 10 ** Math.ceil(Math.log10(Math.max(...values)));
    return { low, high };
  };
  const fds = range([...points.map((point) => point.fds), fdSetSize]);
  const us = range([...points.map((point) => point.us).filter((value) => value > 0), 1]);
  const x = {
    field: "fds",
    type: "quantitative",
    scale: { type: "log", domain: [fds.low, fds.high] as number[] },
    axis: {
      title: "idle fds watched (log scale)",
      values: decades(fds.low, fds.high),
      format: ",~g",
    },
  } as const;
  return {
    name,
    spec: {
      title: {
        text: `${name}: µs per wait, one ready fd among many idle`,
        subtitle:
          "both scales logarithmic: a cost that grows with the fds climbs, one that does not stays flat",
      },
      width: 520,
      height: 320,
      layer: [
        {
          data: { values: points },
          layer: [
            { name: "waits_lines", mark: { type: "line" } },
            { name: "waits", mark: { type: "point", filled: true, size: 50, opacity: 1 } },
          ],
          encoding: {
            x,
            y: {
              field: "us",
              type: "quantitative",
              scale: { type: "log", domain: [us.low, us.high] as number[] },
              axis: {
                title: "µs per wait (log scale)",
                values: decades(us.low, us.high),
                format: ",~g",
              },
            },
            color: {
              field: "backend",
              type: "nominal",
              title: null,
              scale: { domain: backends },
              legend: { orient: "top-left", fillColor: "white" },
            },
          },
        },
        {
          name: "fd_setsize",
          data: { values: [{ fds: fdSetSize, label: `FD_SETSIZE = ${fdSetSize}: select stops` }] },
          layer: [
            {
              name: "fd_setsize",
              mark: { type: "rule", strokeDash: [4, 3], color: "#888" },
              encoding: { x },
            },
            {
              name: "fd_setsize_label",
              mark: {
                type: "text",
                align: "left",
                baseline: "bottom",
                dx: 4,
                dy: -4,
                color: "#555",
              },
              encoding: { x, y: { value: 320 }, text: { field: "label" } },
            },
          ],
        },
      ],
    } as TopLevelSpec,
  };
}

// ---- what a thread costs, and threads that compute (0_threads) --------------------------------

/** One kind of unit: how long one took to start, and its memory, as the lesson measured it. */
export interface UnitCost {
  kind: string;
  startUs: number;
  /** Its own memory: a process's RSS, the RSS or heap one more adds. */
  bytes: number;
  /** What the kernel keeps for it, in no process's RSS. */
  kernelBytes?: number;
  /** The address space reserved for its stack, a thread's. */
  stackBytes?: number;
}

/** N threads that compute: their work per second, as a multiple of one thread's. */
export interface Throughput {
  threads: number;
  speedup: number;
}

/**
 * Two pictures in one: what one unit of each kind costs (time to start it, memory in its forms),
 * dots on log scales, for they are a million times apart; and the work that N threads that
 * compute do per second against N, beside the most they could do (one core each, up to the
 * number of cores): it climbs until N is the number of cores and is flat after it.
 */
export function threadsChart(
  name: string,
  costs: readonly UnitCost[],
  throughput: readonly Throughput[],
  cores: number,
): Chart {
  const kinds = costs.map((cost) => cost.kind);
  const starts = costs.map((cost) => ({ kind: cost.kind, us: cost.startUs }));
  // A figure at or below zero (the heap shrank while they were made) has no place on a log scale.
  const memory = costs.flatMap(({ kind, bytes, kernelBytes, stackBytes }) =>
    (
      [
        ["memory", bytes],
        ["in the kernel", kernelBytes],
        ["stack reserved", stackBytes],
      ] as const
    )
      .filter(([, value]) => value !== undefined && value > 0)
      .map(([what, value]) => ({ kind, what, kib: value! / 1024 })),
  );
  const row = (labels: boolean) =>
    ({
      field: "kind",
      type: "nominal",
      sort: kinds,
      axis: labels ? { title: null, labelLimit: 200 } : null,
    }) as const;
  const dots = { type: "point", filled: true, size: 70, opacity: 1 } as const;
  const most = Math.max(...throughput.map((point) => point.threads));
  const ceiling = throughput.map(({ threads }) => ({
    threads,
    speedup: Math.min(threads, cores),
    series: "one core each, at most",
  }));
  const measured = throughput.map((point) => ({ ...point, series: "measured" }));
  const threads = {
    field: "threads",
    type: "quantitative",
    scale: { type: "log", base: 2, domain: [1, most] as number[] },
    axis: { title: "threads (log scale)", values: throughput.map((point) => point.threads) },
  } as const;
  return {
    name,
    spec: {
      title: { text: `${name}: what one costs, and what more threads than cores give`, offset: 12 },
      // The memory's kinds and the throughput's series are two different sets of colours.
      resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
      vconcat: [
        {
          hconcat: [
            {
              name: "start",
              title: "time to start one",
              width: 300,
              height: { step: 24 },
              data: { values: starts },
              mark: { ...dots, color: "#4e79a7" },
              encoding: { y: row(true), x: logAxis("us", "µs (log scale)", starts) },
            },
            {
              name: "memory",
              title: "memory for one",
              width: 280,
              height: { step: 24 },
              data: { values: memory },
              mark: dots,
              encoding: {
                y: row(false),
                x: logAxis("kib", "KiB (log scale)", memory),
                color: {
                  field: "what",
                  type: "nominal",
                  title: null,
                  sort: null,
                  scale: {
                    domain: ["memory", "in the kernel", "stack reserved"],
                    range: ["#4e79a7", "#f28e2b", "#bab0ac"],
                  },
                  legend: { orient: "right" },
                },
              },
            },
          ],
        },
        {
          title: `threads that compute: work per second against the number of threads (${cores} cores)`,
          width: 560,
          height: 200,
          layer: [
            {
              data: { values: [...measured, ...ceiling] },
              layer: [
                { name: "throughput_lines", mark: { type: "line" } },
                { name: "throughput", mark: { type: "point", filled: true, size: 50, opacity: 1 } },
              ],
              encoding: {
                x: threads,
                y: {
                  field: "speedup",
                  type: "quantitative",
                  scale: { domainMin: 0 },
                  axis: { title: "work per second, x one thread's" },
                },
                color: {
                  field: "series",
                  type: "nominal",
                  title: null,
                  scale: {
                    domain: ["measured", "one core each, at most"],
                    range: ["#4e79a7", "#bab0ac"],
                  },
                  legend: { orient: "bottom-right", fillColor: "white" },
                },
                strokeDash: {
                  field: "series",
                  type: "nominal",
                  scale: {
                    domain: ["measured", "one core each, at most"],
                    range: [
                      [1, 0],
                      [4, 3],
                    ],
                  },
                  legend: null,
                },
              },
            },
          ],
        },
      ],
    } as TopLevelSpec,
  };
}

/**
 * A log-scale axis for dots, from the power of ten below half the smallest value to the one
 * above the largest, with a tick and a grid line at each power of ten and none between.
 */
function logAxis(field: string, title: string, items: readonly Record<string, unknown>[]) {
  const values = items.map((item) => Number(item[field])).filter((value) => value > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...values, 1) / 2));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values, 1) * 1.5));
  return {
    field,
    type: "quantitative",
    scale: { type: "log", domain: [low, high] as number[] },
    axis: { title, values: decades(low, high), format: ",~g", grid: true },
  } as const;
}

/** 0.1, 1, 10, ... from low to high, each a power of ten. */
function decades(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.round(Math.log10(low)); 10 ** exponent <= high * 1.0001; exponent++) {
    ticks.push(Number((10 ** exponent).toPrecision(1)));
  }
  return ticks;
}
