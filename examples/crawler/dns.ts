// The scratch engine's DNS thread (engine.ts). getaddrinfo blocks until DNS answers, which may be
// seconds: in the loop's thread that would stall every connection. libuv runs it in its thread
// pool for the same reason (uv_getaddrinfo); here it runs in a worker of a WorkerPool, whose
// answer wakes the loop through a pipe.
//
// AF_UNSPEC: every address of both families, in the order getaddrinfo sorts them (RFC 6724, which
// puts IPv6 first where this machine can reach it), as curl, wget and browsers ask. AF_INET alone
// would miss a host with only an AAAA record, and "localhost" where /etc/hosts maps it to ::1
// alone. The fetcher tries them in turn (fetcher.ts). A name listed twice in /etc/hosts gives the
// same address twice: once is enough.
import { AF_UNSPEC, getaddrinfo } from "@async-from-scratch/native";
import { serveTasks } from "@async-from-scratch/shared/loop";

serveTasks({
  getaddrinfo: (host: string) => [
    ...new Set(getaddrinfo(host, 80, AF_UNSPEC).map((info) => info.host)),
  ],
});
