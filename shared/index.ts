// What the lessons import besides the native module: the raw-HTTP helper, text and link
// extraction, and the flags, target site and clock that every lesson shares.
export * from "./http.ts";
export * from "./html.ts";
export * from "./lesson.ts";
export * from "./worker.ts";
