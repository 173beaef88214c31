// A text picture of a crawl, drawn after it ends: one row per fetch, in the order they started,
// with time running left to right. Fetches made one after another make a staircase; fetches made
// at once stand side by side, their bars in the same columns.
//
//   timeline: 10 fetches over 2.05 s (c connecting, - waiting for the first byte, # reading, ...)
//   /                         |--#                                                  |
//   /category/networking      |   --#                                               |
//                              0 s                                            2.05 s
//
// Each phase is painted over the columns its time covers, so a phase shorter than a column may
// not show at all: a connect to 127.0.0.1 takes a fraction of a millisecond, and in the picture
// it does not take a column either.

/** One fetch: its label and when each phase began, in milliseconds on any one clock. */
export interface Span {
  label: string;
  startMs: number;
  /** When the handshake ended; missing if it never did. */
  connectedMs?: number;
  /** When the first byte of the response arrived; missing if none did. */
  firstByteMs?: number;
  endMs: number;
  failed?: boolean;
}

export interface TimelineOptions {
  /** Characters per line; a terminal's own width, otherwise 100 so that files get one width. */
  width?: number;
  /** Rows at most; the fetches that started later are counted in one line instead. */
  maxRows?: number;
}

const LABEL_WIDTH = 26;

/**
 * How many fetches the timeline chart (shared/chart.ts) draws at most; a long crawl need keep no
 * more spans than these, the first to start.
 */
export const CHART_ROWS = 150;

export function drawTimeline(spans: readonly Span[], options: TimelineOptions = {}): string {
  const width = options.width ?? (process.stdout.isTTY ? process.stdout.columns : 100);
  const maxRows = options.maxRows ?? 40;
  if (spans.length === 0) return "timeline: no fetches to draw";
  const rows = [...spans].sort((a, b) => a.startMs - b.startMs);
  const origin = rows[0]!.startMs;
  const totalMs = Math.max(...rows.map((span) => span.endMs)) - origin;
  const columns = Math.max(10, width - LABEL_WIDTH - 2);
  // The column a moment falls in; the last moment belongs to the last column.
  const column = (ms: number) =>
    totalMs <= 0 ? 0 : Math.min(columns - 1, Math.floor(((ms - origin) / totalMs) * columns));

  const lines = [
    `timeline: ${plural(rows.length, "fetch", "fetches")} over ${seconds(totalMs)}` +
      " (c connecting, - waiting for the first byte, # reading, x failed)",
  ];
  for (const span of rows.slice(0, maxRows)) {
    const cells = Array<string>(columns).fill(" ");
    const phases: [from: number | undefined, to: number | undefined, mark: string][] = [
      [span.startMs, span.connectedMs ?? span.endMs, "c"],
      [span.connectedMs, span.firstByteMs ?? span.endMs, "-"],
      [span.firstByteMs, span.endMs, "#"],
    ];
    // Later phases are painted over earlier ones where they share a column, so a fetch that got
    // an answer always ends in a "#".
    for (const [from, to, mark] of phases) {
      if (from === undefined || to === undefined) continue;
      for (let c = column(from); c <= column(to); c++) cells[c] = mark;
    }
    if (span.failed) cells[column(span.endMs)] = "x";
    lines.push(`${fit(span.label, LABEL_WIDTH)}|${cells.join("")}|`);
  }
  if (rows.length > maxRows) {
    lines.push(`${" ".repeat(LABEL_WIDTH)} ... and ${rows.length - maxRows} more, not drawn`);
  }
  const end = seconds(totalMs);
  lines.push(`${" ".repeat(LABEL_WIDTH)} 0 s${end.padStart(columns - 3)}`);
  return lines.join("\n");
}

// The label cut to fit its column with an ellipsis, or padded, with one space before the bar.
function fit(label: string, size: number): string {
  return label.length < size ? label.padEnd(size) : `${label.slice(0, size - 2)}… `;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
