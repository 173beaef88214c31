// A fixed pool of worker threads, for work that would stall the loop: parsing and indexing pages
// (CPU, which a second core can do meanwhile) and calls that block (getaddrinfo). It is libuv's
// thread pool (uv_queue_work, which Node uses for DNS and files) and asyncio's run_in_executor.
//
//   main thread:   const pool = new WorkerPool(loop, new URL("./tasks.ts", import.meta.url), 2);
//                  const page = await pool.run("parse", { html, url });
//   tasks.ts:      serveTasks({ parse: ({ html, url }) => parsePage(html, url) });
//
// A task goes to the worker with the fewest tasks in hand, as a message on its port. The answer
// comes back as a message too, and the worker then writes a byte to the loop's Waker: our loop may
// be asleep in select(), where Node's 'message' events never reach it (waker.ts).
import {
  MessageChannel,
  isMainThread,
  receiveMessageOnPort,
  workerData,
  type MessagePort,
  type TransferListItem,
  type Worker,
} from "node:worker_threads";
import { startTypeScriptWorker } from "../worker.ts";
import type { EventLoop } from "./loop.ts";
import { Waker, wake } from "./waker.ts";

type Handlers = Record<string, (argument: never) => unknown>;

interface Job {
  id: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Member {
  worker: Worker;
  port: MessagePort;
  inHand: Map<number, Job>;
}

type Answer = { id: number; result: unknown } | { id: number; error: unknown };

// The key under which a pool worker finds its port and the Waker's fd in workerData.
const POOL_KEY = "@async-from-scratch/pool";

export class WorkerPool {
  readonly #members: Member[] = [];
  readonly #wakers: Waker[] = [];
  #nextId = 1;
  #closed = false;

  /** Starts `size` workers, each running the module at moduleUrl, which calls serveTasks(). */
  constructor(loop: EventLoop, moduleUrl: string | URL, size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`a pool needs at least one worker, got ${size}`);
    }
    for (let i = 0; i < size; i++) {
      const { port1: ours, port2: theirs } = new MessageChannel();
      const member: Member = { worker: undefined!, port: ours, inHand: new Map() };
      const waker = new Waker(loop, () => this.#receive(member));
      member.worker = startTypeScriptWorker(
        moduleUrl,
        { [POOL_KEY]: { port: theirs, wakeFd: waker.writeFd } },
        [theirs],
      );
      // An idle pool must not keep the process alive: close() is for a clean end, not required.
      member.worker.unref();
      this.#members.push(member);
      this.#wakers.push(waker);
    }
  }

  /** Runs handlers[task](argument) in a worker; settles with its result or its error. */
  run<Result>(task: string, argument: unknown, transfer: TransferListItem[] = []): Promise<Result> {
    if (this.#closed) return Promise.reject(new Error("this pool is closed"));
    const member = this.#members.reduce((a, b) => (b.inHand.size < a.inHand.size ? b : a));
    const id = this.#nextId++;
    return new Promise<Result>((resolve, reject) => {
      member.inHand.set(id, { id, resolve: resolve as (value: unknown) => void, reject });
      member.port.postMessage({ id, task, argument }, transfer);
    });
  }

  /** Tasks sent and not yet answered, over all workers. */
  get pending(): number {
    return this.#members.reduce((sum, member) => sum + member.inHand.size, 0);
  }

  /** Stops every worker; tasks still in hand reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waker of this.#wakers) waker.close();
    for (const member of this.#members) {
      for (const job of member.inHand.values()) job.reject(new Error("the pool was closed"));
      member.inHand.clear();
      member.port.close();
    }
    await Promise.all(this.#members.map((member) => member.worker.terminate()));
  }

  #receive(member: Member): void {
    // One wake-up may cover several answers: take every one waiting.
    for (;;) {
      const received = receiveMessageOnPort(member.port);
      if (received === undefined) return;
      const answer = received.message as Answer;
      const job = member.inHand.get(answer.id);
      if (job === undefined) continue;
      member.inHand.delete(answer.id);
      if ("error" in answer) job.reject(answer.error);
      else job.resolve(answer.result);
    }
  }
}

/**
 * In a pool's worker: answers the pool's tasks with these handlers, in the order they come. Does
 * nothing in the main thread or in a worker that no pool started.
 */
export function serveTasks(handlers: Handlers): void {
  if (isMainThread) return;
  const pool = (workerData as Record<string, unknown> | null)?.[POOL_KEY] as
    { port: MessagePort; wakeFd: number } | undefined;
  if (pool === undefined) return;
  const { port, wakeFd } = pool;
  port.on(
    "message",
    async ({ id, task, argument }: { id: number; task: string; argument: never }) => {
      let answer: Answer;
      try {
        const handler = handlers[task];
        if (handler === undefined) throw new Error(`no task named ${JSON.stringify(task)}`);
        answer = { id, result: await handler(argument) };
      } catch (error) {
        answer = { id, error };
      }
      try {
        port.postMessage(answer);
      } catch (error) {
        // A result that cannot be copied to another thread (a function, say) fails its task only.
        port.postMessage({ id, error: new Error(`task ${task}: ${(error as Error).message}`) });
      }
      wake(wakeFd); // after the message is on the port: the loop reads the port when it wakes
    },
  );
}
