// The few ways the site answers a request through node:http.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { deflateSync, gzipSync } from "node:zlib";
import { remembered } from "@async-from-scratch/shared/remember";
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
  const coding = contentType.startsWith("text/") ? codingFor(res) : undefined;
  const extra: OutgoingHttpHeaders = {};
  let bytes: Buffer;
  if (coding === undefined) bytes = typeof body === "string" ? Buffer.from(body) : body;
  else {
    bytes = compress(body, coding);
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

// The site's pages come out the same every time they are asked for (it is made from a seed), so
// each text is compressed once and the bytes remembered, as a server with a cache in front of it
// does: compressing took about a tenth of the site's CPU per page, and a benchmark on this
// machine shares the cores with the site. Bounded by the texts a crawl asks for again (bench:
// crawler's 1,000 pages, three times): past 2,000 the memory forgets them all at once, so that
// a crawl of a million lazy pages, none asked for twice, holds about 20 MB here (each page's text
// and its gzip, some 9 KB), not 90.
const REMEMBERED_TEXTS = 2_000;
const gzipped = remembered((text: string) => gzipSync(text), REMEMBERED_TEXTS);
const deflated = remembered((text: string) => deflateSync(text), REMEMBERED_TEXTS);
// Bodies given as bytes that never change (the 8 MiB page), by the Buffer itself.
const compressed = new WeakMap<Buffer, Map<string, Buffer>>();

function compress(body: string | Buffer, coding: "gzip" | "deflate"): Buffer {
  // "deflate" means the zlib format (RFC 9110 8.4.1.2), not raw deflate, though some servers
  // send raw deflate anyway.
  if (typeof body === "string") return coding === "gzip" ? gzipped(body) : deflated(body);
  const known = compressed.get(body)?.get(coding);
  if (known !== undefined) return known;
  // The fastest level for the 8 MiB page: the default one would hold the site up for half a second.
  const options = { level: body.length > 1 << 20 ? 1 : 6 };
  const result = coding === "gzip" ? gzipSync(body, options) : deflateSync(body, options);
  if (body.length > 1 << 20) {
    const byCoding = compressed.get(body) ?? new Map<string, Buffer>();
    byCoding.set(coding, result);
    compressed.set(body, byCoding);
  }
  return result;
}

/** 302 Found. `location` is sent as written: relative ones are for the client to resolve. */
export function redirect(res: ServerResponse, location: string): void {
  send(res, 302, HTML, redirectPage(location), { Location: location });
}
