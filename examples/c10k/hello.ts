// What every server of this lesson answers, so that the scratch server and the Node `net` one
// send the same bytes: a small fixed body to GET (and its head to HEAD), 405 to anything else.
import type { Reply, Request } from "@async-from-scratch/shared/server";

export const BODY = Buffer.from("Hello from one thread, one of ten thousand connections.\n");
const TEXT = "text/plain; charset=utf-8";

export function hello(request: Request): Reply {
  if (request.method === "GET" || request.method === "HEAD") {
    return { status: 200, headers: { "Content-Type": TEXT }, body: BODY };
  }
  return {
    status: 405,
    headers: { Allow: "GET, HEAD", "Content-Type": TEXT },
    body: `405 ${request.method} is not served here: GET or HEAD\n`,
  };
}
