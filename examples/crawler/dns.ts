// The scratch engine's DNS thread (engine.ts). getaddrinfo blocks until DNS answers, which may be
// seconds: in the loop's thread that would stall every connection. libuv runs it in its thread
// pool for the same reason (uv_getaddrinfo); here it runs in a worker of a WorkerPool, whose
// answer wakes the loop through a pipe.
import { AF_INET, getaddrinfo } from "@async-from-scratch/native";
import { serveTasks } from "@async-from-scratch/shared/loop";

serveTasks({
  getaddrinfo: (host: string) => getaddrinfo(host, 80, AF_INET).map((info) => info.host),
});
