// The few ways the site answers a request through node:http.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { redirectPage } from "./pages.ts";

export const HTML = "text/html; charset=utf-8";

/** A whole response at once, with its Content-Length, so the client knows where the body ends. */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": bytes.length,
    ...headers,
  });
  res.end(bytes);
}

/** 302 Found. `location` is sent as written: relative ones are for the client to resolve. */
export function redirect(res: ServerResponse, location: string): void {
  send(res, 302, HTML, redirectPage(location), { Location: location });
}
