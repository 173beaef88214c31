// Reading a chart back, as the tests of the lessons that draw one do: the SVG parsed as strict XML
// (a file that is not well-formed fails here, with the parser's message), then its marks by name,
// each point with the fields Vega lists in its aria-label ("fds: 1000; backend: poll; ...").
// shared/chart.ts names every mark, and Vega writes the name into the SVG as "NAME_marks".
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser, type Element, onWarningStopParsing } from "@xmldom/xmldom";
import * as assert from "uvu/assert";

/** One point of a mark: its fields, numbers as numbers. */
export type Point = Record<string, string | number>;

export interface ChartFile {
  /** The points of the mark with this name, in the order they are drawn. */
  marks(name: string): Point[];
  /** Every text in the picture: title, axis labels, legend. */
  texts: string[];
}

/** The chart in this SVG file; fails the test if it is not well-formed XML with an <svg> root. */
export function readChart(file: string): ChartFile {
  const text = readFileSync(file, "utf8");
  // Warnings stop the parse too: a file a browser would have to guess at is not a good figure.
  const document = new DOMParser({ onError: onWarningStopParsing }).parseFromString(
    text,
    "image/svg+xml",
  );
  const root = document.documentElement;
  assert.ok(root, `${file}: no root element`);
  assert.is(root.tagName, "svg", `${file}: the root element`);
  assert.is(root.getAttribute("xmlns"), "http://www.w3.org/2000/svg");
  const groups = [...root.getElementsByTagName("g")];
  return {
    marks(name) {
      // A line drawn in several colours is a group of its own for each colour.
      const found = groups.filter((g) => classes(g).includes(`${name}_marks`));
      assert.ok(found.length > 0, `${file}: no mark named ${name}`);
      return found.flatMap((group) =>
        [...group.childNodes]
          .filter((node): node is Element => node.nodeType === node.ELEMENT_NODE)
          .map((element) => fields(element.getAttribute("aria-label") ?? "")),
      );
    },
    texts: [...root.getElementsByTagName("text")].map((element) => element.textContent ?? ""),
  };
}

/** A fetch of a crawl timeline: its row, when it began and ended, and its phases in order. */
export interface ChartedFetch {
  fetch: string;
  start: number;
  end: number;
  /** "connecting", "waiting", "reading", "failed" */
  phases: string[];
}

/** The fetches a timeline chart (shared/chart.ts's timelineChart) draws, row by row. */
export function fetchesIn(chart: ChartFile): ChartedFetch[] {
  const rows = new Map<string, ChartedFetch>();
  const row = (fetch: string) =>
    rows.get(fetch) ??
    rows.set(fetch, { fetch, start: Infinity, end: -Infinity, phases: [] }).get(fetch)!;
  for (const bar of chart.marks("phases")) {
    const entry = row(String(bar.fetch));
    entry.start = Math.min(entry.start, Number(bar.from));
    entry.end = Math.max(entry.end, Number(bar.to));
    entry.phases.push(String(bar.phase).split(" ")[0]!);
  }
  for (const cross of chart.marks("failures")) row(String(cross.fetch)).phases.push("failed");
  return [...rows.values()];
}

/** A fresh file name in a folder of its own, and a function that removes the folder. */
export function chartFile(): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "chart-"));
  return { file: join(dir, "chart.svg"), remove: () => rmSync(dir, { recursive: true }) };
}

function classes(element: Element): string[] {
  return (element.getAttribute("class") ?? "").split(/\s+/);
}

// "fds: 1,000; backend: poll" -> { fds: 1000, backend: "poll" }
function fields(label: string): Point {
  const point: Point = {};
  for (const pair of label.split("; ")) {
    const colon = pair.indexOf(": ");
    if (colon === -1) continue;
    const value = pair.slice(colon + 2);
    const number = Number(value.replaceAll(",", ""));
    point[pair.slice(0, colon)] = value !== "" && Number.isFinite(number) ? number : value;
  }
  return point;
}
