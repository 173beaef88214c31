// The index writer's thread (sink.ts). It holds the one IndexWriter of the index (shared/search)
// and answers the crawler's open, add, close and abort in the order they come: tokenizing,
// stemming, building postings and flushing segments all happen here, beside the loop's thread.
import { IndexWriter, type IndexSummary } from "@async-from-scratch/shared/search";
import { serveTasks } from "@async-from-scratch/shared/loop";
import type { SinkPage } from "./sink.ts";

let writer: IndexWriter | null = null;

function open(): IndexWriter {
  if (writer === null) throw new Error("the index is not open");
  return writer;
}

serveTasks({
  open({ dir, append }: { dir: string; append: boolean }): void {
    writer = IndexWriter.create(dir, { append });
  },
  add: (page: SinkPage): boolean => open().add(page).duplicate,
  close(): IndexSummary {
    const summary = open().close();
    writer = null;
    return summary;
  },
  abort(): void {
    writer?.abort();
    writer = null;
  },
});
