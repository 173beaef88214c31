// The index writer's thread (sink.ts): it holds the one writer of the index and answers the
// crawler's open, add, close and abort, in the order they come.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serveTasks } from "@async-from-scratch/shared/loop";
import type { SinkPage } from "./sink.ts";

let writer: { dir: string; pages: number; lines: string[] } | null = null;

function flush(): void {
  if (writer === null || writer.lines.length === 0) return;
  appendFileSync(join(writer.dir, "pages.jsonl"), writer.lines.join(""));
  writer.lines = [];
}

serveTasks({
  open({ dir, append }: { dir: string; append: boolean }) {
    mkdirSync(dir, { recursive: true });
    if (!append) writeFileSync(join(dir, "pages.jsonl"), "");
    writer = { dir, pages: 0, lines: [] };
  },
  add(page: SinkPage): boolean {
    writer!.lines.push(`${JSON.stringify(page)}\n`);
    writer!.pages++;
    if (writer!.lines.length >= 256) flush();
    return false;
  },
  close(): string {
    flush();
    const line = `${writer!.pages} pages in ${writer!.dir}`;
    writer = null;
    return line;
  },
  abort(): void {
    writer = null;
  },
});
