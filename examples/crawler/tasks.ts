// What the crawler's worker threads do (WorkerPool, shared/loop/pool.ts): read a page, which is
// the CPU-heavy part of a crawl (gunzip, decode, tokenize HTML, normalize links, SHA-1), so that
// the loop's thread only moves bytes. This module runs in each worker of the pool.
import { serveTasks } from "@async-from-scratch/shared/loop";
import { readPage } from "./page.ts";

serveTasks({ readPage });
