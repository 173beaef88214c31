// The production event loop that the tools share (c10k's server, the crawler, the search server):
// lesson 6's loop grown up. README.md beside this file says what it adds and why.
export * from "./loop.ts";
export * from "./queue.ts";
export * from "./waker.ts";
export * from "./pool.ts";
