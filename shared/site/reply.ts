// The few ways the site answers a request through node:http.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { deflateSync, gzipSync } from "node:zlib";
import { redirectPage } from "./pages.ts";

export const HTML = "text/html; charset=utf-8";

/**
 * A whole response at once, with its Content-Length, so the client knows where the body ends.
 * Text is gzipped (or deflated) when the request's Accept-Encoding asks for it, as real servers
 * do: a crawler that asks must then decode it.
 */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  let bytes = typeof body === "string" ? Buffer.from(body) : body;
  const coding = contentType.startsWith("text/") ? codingFor(res) : undefined;
  const extra: OutgoingHttpHeaders = {};
  if (coding !== undefined) {
    bytes = compress(bytes, coding);
    extra["Content-Encoding"] = coding;
    extra["Vary"] = "Accept-Encoding";
  }
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": bytes.length,
    ...extra,
    ...headers,
  });
  res.end(bytes);
}

/** gzip or deflate, if the request accepts one (gzip first); undefined for neither. */
function codingFor(res: ServerResponse): "gzip" | "deflate" | undefined {
  const accepted = new Map<string, number>();
  // "gzip, deflate;q=0.5, br": a coding with q=0 is refused (RFC 9110 12.5.3).
  for (const item of String(res.req?.headers["accept-encoding"] ?? "").split(",")) {
    const [name = "", ...parameters] = item.split(";").map((part) => part.trim().toLowerCase());
    const q = parameters.find((parameter) => parameter.startsWith("q="));
    accepted.set(name, q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const wildcard = accepted.get("*") ?? 0;
  if ((accepted.get("gzip") ?? wildcard) > 0) return "gzip";
  if ((accepted.get("deflate") ?? wildcard) > 0) return "deflate";
  return undefined;
}

// Bodies that never change (the 8 MiB page) are compressed once, not on every request.
const compressed = new WeakMap<Buffer, Map<string, Buffer>>();

function compress(bytes: Buffer, coding: "gzip" | "deflate"): Buffer {
  const known = compressed.get(bytes)?.get(coding);
  if (known !== undefined) return known;
  // "deflate" means the zlib format (RFC 9110 8.4.1.2), not raw deflate, though some servers
  // send raw deflate anyway.
  // The fastest level for the 8 MiB page: the default one would hold the site up for half a second.
  const options = { level: bytes.length > 1 << 20 ? 1 : 6 };
  const result = coding === "gzip" ? gzipSync(bytes, options) : deflateSync(bytes, options);
  if (bytes.length > 1 << 20) {
    const byCoding = compressed.get(bytes) ?? new Map<string, Buffer>();
    byCoding.set(coding, result);
    compressed.set(bytes, byCoding);
  }
  return result;
}

/** 302 Found. `location` is sent as written: relative ones are for the client to resolve. */
export function redirect(res: ServerResponse, location: string): void {
  send(res, 302, HTML, redirectPage(location), { Location: location });
}
