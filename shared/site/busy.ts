// Two ways the fixture site makes a client's socket not writable, the two reasons the lecture gives
// in "Плохой вариант неблокирующего сокета". 1_bad_socket meets both and counts its failed sends.
//
//   the busy port   a second listening socket whose accept queue is full. The kernel drops a SYN
//                   that finds the queue full, and the client's kernel sends it again a second
//                   later (TCP's first retransmission timeout): the handshake takes time, and until
//                   it ends, send() has nowhere to go.
//   POST /upload    reads the request body only after the site's latency. Until then the body
//                   fills the site's receive buffer, then the client's send buffer, and the
//                   client's send() has no room.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Socket as NodeSocket } from "node:net";
import { EVENT_READ, PollSelector, Socket } from "@async-from-scratch/native";
import { send } from "./reply.ts";

/** How long a connection waits in the busy port's queue before the site accepts it. */
export const ACCEPT_DELAY_MS = 300;
// How often the site looks at the queue: often enough that ACCEPT_DELAY_MS is what a client sees.
const LOOK_EVERY_MS = 5;

export interface BusyPort {
  port: number;
}

/**
 * Opens the busy port beside `server`, and hands each connection it accepts to `server`, which
 * answers it like any other. It closes when the server closes.
 *
 * The queue holds one finished handshake (listen's backlog 0: Linux queues backlog + 1). A
 * connection that arrives while the queue is full gets no answer to its SYN. The site leaves each
 * queued connection waiting ACCEPT_DELAY_MS before it accepts it, so a client that finds another
 * already waiting has its SYN dropped, and gets in when its kernel retries.
 *
 * node:net cannot do this: it accepts every connection the moment the kernel has one. So the
 * listening socket is the native module's, and the site only looks at it (a poll with timeout 0,
 * every few milliseconds) until the connection waiting there is old enough to accept.
 */
export function openBusyPort(server: Server): BusyPort {
  const listener = new Socket();
  listener.bind(["127.0.0.1", 0]);
  listener.listen(0);
  listener.setBlocking(false);
  const selector = new PollSelector();
  selector.register(listener, EVENT_READ);

  let waitingSince: number | undefined; // when the site first saw a connection in the queue
  const timer = setInterval(() => {
    if (!server.listening) return; // stopping: accept nothing more
    if (waitingSince === undefined) {
      if ([...selector.select(0)].length > 0) waitingSince = performance.now();
      return;
    }
    if (performance.now() - waitingSince < ACCEPT_DELAY_MS) return;
    waitingSince = undefined;
    let connection: Socket;
    try {
      [connection] = listener.accept();
    } catch {
      return; // the client gave up meanwhile (a reset takes it off the queue); nothing to accept
    }
    // From here node:net owns the fd, and node:http answers on it.
    server.emit("connection", new NodeSocket({ fd: connection.detach() }));
  }, LOOK_EVERY_MS);
  timer.unref(); // the site's own server keeps it running; this alone must not

  server.once("close", () => {
    clearInterval(timer);
    selector.close();
    listener.close();
  });
  return { port: listener.getsockname()[1] };
}

/**
 * POST /upload: counts the body's bytes and says how many came. serve() has already waited the
 * latency before it calls this, and node:http reads no more of a body than it can hand on, so
 * until now the body has waited in the kernel's buffers, and the client's sends have failed.
 */
export async function upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let bytes = 0;
  for await (const chunk of req) bytes += (chunk as Buffer).length;
  send(res, 200, "text/plain; charset=utf-8", `received ${bytes} bytes\n`);
}
