// Python's ResourceWarning: an fd whose owner (a Socket, an epoll or kqueue selector) is
// garbage-collected without close() is closed then, with a warning that names it:
//   (node:1234) ResourceWarning: unclosed Socket fd=5: closed when it was garbage-collected; ...
// Without this the fd would stay open until the process ends, and a server that drops sockets
// would run out of fds. The warning is there because relying on it is still a bug: nobody knows
// when, or whether, the collector runs. Internal: index.ts does not export it.
//
// The registry holds the fd number, never the owner, so it does not keep the owner alive. That is
// also its one hazard: an fd closed by number behind its owner's back (close(sock.fileno())) may
// be reused, and the collector then closes the new owner's fd. Close a Socket with its close().
import { binding } from "./binding.ts";

const registry = new FinalizationRegistry<{ fd: number; what: string }>(({ fd, what }) => {
  try {
    binding.close(fd);
  } catch {
    // Already closed (EBADF): the warning still says whose close() was missing.
  }
  process.emitWarning(
    `unclosed ${what} fd=${fd}: closed when it was garbage-collected; ` +
      "close it with close() or using",
    "ResourceWarning",
  );
});

/** Closes fd, and warns, if owner is collected before it calls closedByOwner(owner). */
export function closeWhenCollected(owner: object, fd: number, what: string): void {
  registry.register(owner, { fd, what }, owner);
}

/** owner closed its fd itself: nothing left for the collector to do. */
export function closedByOwner(owner: object): void {
  registry.unregister(owner);
}
