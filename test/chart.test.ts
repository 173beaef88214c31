// shared/chart.ts: the crawl timeline drawn from spans with known times, read back from the SVG
// as the lessons' tests read theirs; where writeChart puts a chart and the line it prints.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  CHART_DIR,
  type MemoryBar,
  type Throughput,
  type UnitCost,
  type WaitPoint,
  memoryChart,
  renderSvg,
  selectorsChart,
  threadsChart,
  timelineChart,
  writeChart,
} from "@async-from-scratch/shared/chart";
import { type Span, drawChart } from "@async-from-scratch/shared";
import { chartFile, fetchesIn, readChart } from "./charts.ts";
import { root } from "./lessons.ts";

// Three fetches one after another, the second failed before its first byte, and the first
// fetched once more at the end.
const spans: Span[] = [
  { label: "/", startMs: 1000, connectedMs: 1001, firstByteMs: 1100, endMs: 1110 },
  { label: "/a", startMs: 1110, connectedMs: 1111, endMs: 1150, failed: true },
  { label: "/b", startMs: 1150, connectedMs: 1152, firstByteMs: 1250, endMs: 1260 },
  { label: "/", startMs: 1260, connectedMs: 1261, firstByteMs: 1300, endMs: 1301 },
];

test("timelineChart: a bar per phase of each fetch, in start order, and a cross per failure", async () => {
  const { file, remove } = chartFile();
  try {
    // Given out of order: the rows are sorted by start.
    await writeChart(timelineChart("test", [...spans].reverse()), file);
    const chart = readChart(file);
    const phases = chart.marks("phases");
    assert.equal(
      phases.map((bar) => [bar.fetch, bar.phase, bar.from, bar.to]),
      [
        ["/", "connecting", 0, 1],
        ["/", "waiting for the first byte", 1, 100],
        ["/", "reading", 100, 110],
        ["/a", "connecting", 110, 111],
        ["/a", "waiting for the first byte", 111, 150],
        ["/b", "connecting", 150, 152],
        ["/b", "waiting for the first byte", 152, 250],
        ["/b", "reading", 250, 260],
        ["/ (2)", "connecting", 260, 261],
        ["/ (2)", "waiting for the first byte", 261, 300],
        ["/ (2)", "reading", 300, 301],
      ],
    );
    assert.equal(chart.marks("failures"), [{ at: 150, fetch: "/a", phase: "failed" }]);
    assert.ok(chart.texts.includes("test: 4 fetches over 0.30 s"), chart.texts.join("|"));
    for (const label of ["connecting", "waiting for the first byte", "reading", "failed"]) {
      assert.ok(chart.texts.includes(label), `the legend names ${label}`);
    }
  } finally {
    remove();
  }
});

test("timelineChart: past 150 fetches, the rest are counted in the subtitle", async () => {
  const many: Span[] = Array.from({ length: 160 }, (_, i) => ({
    label: `/p${i}`,
    startMs: i,
    endMs: i + 1,
  }));
  const { file, remove } = chartFile();
  try {
    await writeChart(timelineChart("many", many), file);
    const chart = readChart(file);
    assert.is(new Set(chart.marks("phases").map((bar) => bar.fetch)).size, 150);
    assert.ok(chart.texts.some((text) => text.includes("the first 150 drawn, 10 more not")));
  } finally {
    remove();
  }
});

test("timelineChart: no fetches at all is still a picture", async () => {
  const svg = await renderSvg(timelineChart("none", []).spec);
  assert.match(svg, /^<svg /);
  assert.match(svg, /none: 0 fetches over 0\.00 s/);
});

test("memoryChart: a bar per figure on a log scale; one at or below zero is drawn empty", async () => {
  const { file, remove } = chartFile();
  try {
    const bars: MemoryBar[] = [
      { server: "ours", bytes: -600, how: "measured" },
      { server: "theirs", bytes: 3.5 * 1024, how: "measured" },
      { server: "a thread's stack", bytes: 8 * 1024 ** 2, how: "computed" },
    ];
    await writeChart(memoryChart("c10k", bars, 2000), file);
    const chart = readChart(file);
    // The scale runs from 0.1 KiB (a power of ten below half of 3.5) to 100,000 KiB.
    assert.equal(chart.marks("memory"), [
      { kib: 0.1, server: "ours", how: "measured" },
      { kib: 3.5, server: "theirs", how: "measured" },
      { kib: 8192, server: "a thread's stack", how: "computed" },
    ]);
    assert.equal(
      chart.marks("labels").map((label) => label.shown),
      ["-0.59 KiB", "3.50 KiB", "8.0 MiB"],
    );
  } finally {
    remove();
  }
});

test("selectorsChart: a line per backend, select's ending where it refused, and FD_SETSIZE", async () => {
  const points: WaitPoint[] = [
    { backend: "select", fds: 10, us: 1.5 },
    { backend: "select", fds: 900, us: 9 },
    { backend: "poll", fds: 10, us: 1.4 },
    { backend: "poll", fds: 900, us: 8 },
    { backend: "poll", fds: 10000, us: 90 },
    { backend: "epoll", fds: 10, us: 0.8 },
    { backend: "epoll", fds: 900, us: 0.8 },
    { backend: "epoll", fds: 10000, us: 0.9 },
  ];
  const { file, remove } = chartFile();
  try {
    await writeChart(selectorsChart("3_selectors", points, 1024), file);
    const chart = readChart(file);
    // A line is one path per backend, and a point per measurement on it.
    assert.equal(
      chart.marks("waits_lines").map((line) => line.backend),
      ["select", "poll", "epoll"],
    );
    assert.equal(chart.marks("waits"), points);
    assert.ok(chart.texts.includes("FD_SETSIZE = 1024: select stops"), chart.texts.join("|"));
  } finally {
    remove();
  }
});

test("threadsChart: a dot per kind and figure above zero, and throughput against the ceiling", async () => {
  const costs: UnitCost[] = [
    { kind: "process", startUs: 1500, bytes: 1024 ** 2 },
    { kind: "thread", startUs: 20, bytes: 10 * 1024, stackBytes: 8 * 1024 ** 2 },
    { kind: "generator", startUs: 0.2, bytes: 102.4, kernelBytes: 0 },
  ];
  const throughput: Throughput[] = [
    { threads: 1, speedup: 1 },
    { threads: 2, speedup: 1.9 },
    { threads: 4, speedup: 1.8 },
  ];
  const { file, remove } = chartFile();
  try {
    await writeChart(threadsChart("0_threads", costs, throughput, 2), file);
    const chart = readChart(file);
    assert.equal(chart.marks("start"), [
      { us: 1500, kind: "process" },
      { us: 20, kind: "thread" },
      { us: 0.2, kind: "generator" },
    ]);
    assert.equal(
      chart.marks("memory").map((dot) => [dot.kind, dot.what, dot.kib]),
      [
        ["process", "memory", 1024],
        ["thread", "memory", 10],
        ["thread", "stack reserved", 8192],
        ["generator", "memory", 0.1],
      ],
    );
    const points = chart.marks("throughput");
    assert.equal(
      points.map((point) => [point.series, point.threads, point.speedup]),
      [
        ["measured", 1, 1],
        ["measured", 2, 1.9],
        ["measured", 4, 1.8],
        ["one core each, at most", 1, 1],
        ["one core each, at most", 2, 2],
        ["one core each, at most", 4, 2],
      ],
    );
  } finally {
    remove();
  }
});

test("writeChart: out/NAME.svg by default, and the line names it relative to the folder", async () => {
  const name = `chart-test-${process.pid}`;
  const file = join(CHART_DIR, `${name}.svg`);
  try {
    const line = await writeChart(timelineChart(name, spans));
    assert.is(line, `chart: ${relative(process.cwd(), file)}`);
    assert.is(relative(root, file), `out/${name}.svg`);
    readChart(file);
  } finally {
    rmSync(file, { force: true });
  }
});

test("writeChart: a file outside the current folder is named in full, its folder made", async () => {
  const { file, remove } = chartFile();
  const deeper = join(file, "..", "a", "b.svg");
  try {
    assert.is(await writeChart(timelineChart("x", spans), deeper), `chart: ${deeper}`);
    assert.match(readFileSync(deeper, "utf8"), /^<svg /);
  } finally {
    remove();
  }
});

test("drawChart: --svg none draws nothing, and says so", async () => {
  let made = false;
  const line = await drawChart("none", ({ timelineChart }) => {
    made = true;
    return timelineChart("x", spans);
  });
  assert.is(line, "chart: not drawn (--svg none)");
  assert.not.ok(made);
});

test("drawChart: a chart made with the chart module's functions, written where --svg says", async () => {
  const { file, remove } = chartFile();
  try {
    const line = await drawChart(file, ({ timelineChart }) => timelineChart("x", spans));
    assert.is(line, `chart: ${file}`);
    assert.is(fetchesIn(readChart(file)).length, 4);
  } finally {
    remove();
  }
});

test("writeChart: a folder where the file should be is an error that names it", async () => {
  const { file, remove } = chartFile();
  try {
    mkdirSync(file);
    try {
      await writeChart(timelineChart("x", spans), file);
      assert.unreachable("it wrote over a folder");
    } catch (error) {
      assert.is((error as NodeJS.ErrnoException).code, "EISDIR");
    }
  } finally {
    remove();
  }
});

test.run();
