// What the lessons import besides the native module: the raw-HTTP helper (and the Redis protocol
// beside it, for crawlers that share a frontier), text and link extraction, the flags, target
// site and clock that every lesson shares, and the records, summary and timeline of the crawling
// lessons.
export * from "./http.ts";
export * from "./resp.ts";
export * from "./html.ts";
export * from "./lesson.ts";
export * from "./worker.ts";
export * from "./crawl.ts";
export * from "./timeline.ts";
