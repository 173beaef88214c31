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
//
// Messages travel in batches: the tasks given to a worker in one round of the loop go to it as one
// message, sent at the start of the next round, and the worker answers each message with one
// message (and one wake-up). Why: a message to a thread that sleeps has to wake it, and waking a
// thread on another CPU is far dearer than the copy of the message (on this course's virtual
// machine, some 0.1 ms against a few microseconds: the kernel sends the other CPU an interrupt).
// A crawler that gets four pages in one round wakes its reading thread once, not four times, and
// is woken once for their answers. libuv batches its thread pool's answers the same way: however
// many works are done, one uv_async_send, and uv__work_done takes them all.
//
// Given no loop (null), the pool runs on Node's own loop instead: answers arrive as 'message'
// events and no pipe is made. A program that can run on either loop (the crawler's --engine node)
// then sends the same tasks to the same workers.
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
import { Waker, wake, type WakeHandle } from "./waker.ts";

type Handlers = Record<string, (argument: never) => unknown>;

interface Job {
  id: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Task {
  id: number;
  task: string;
  argument: unknown;
}

interface Member {
  worker: Worker;
  port: MessagePort;
  inHand: Map<number, Job>;
  /** On our loop: the tasks given this round, and what they transfer, sent at the next. */
  outbox: Task[];
  transfer: TransferListItem[];
}

// What a pool's worker finds in workerData under POOL_KEY: its port, and the Waker to wake after
// each answer (null on Node's loop, which hears the 'message' event by itself).
interface PoolData {
  port: MessagePort;
  waker: WakeHandle | null;
}

type Answer = { id: number; result: unknown } | { id: number; error: unknown };
// Each message carries one batch, in order: tasks one way, their answers the other.
type Tasks = Task[];
type Answers = Answer[];

// The key under which a pool worker finds its port and the Waker's fd in workerData.
const POOL_KEY = "@async-from-scratch/pool";

export class WorkerPool {
  readonly #members: Member[] = [];
  readonly #wakers: Waker[] = [];
  readonly #loop: EventLoop | null;
  #nextId = 1;
  #closed = false;

  /**
   * Starts `size` workers, each running the module at moduleUrl, which calls serveTasks(). With
   * `loop` null, answers come through Node's own loop, for a program that does not use ours.
   */
  constructor(loop: EventLoop | null, moduleUrl: string | URL, size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`a pool needs at least one worker, got ${size}`);
    }
    this.#loop = loop;
    for (let i = 0; i < size; i++) {
      const { port1: ours, port2: theirs } = new MessageChannel();
      const member: Member = {
        worker: undefined!,
        port: ours,
        inHand: new Map(),
        outbox: [],
        transfer: [],
      };
      let waker: WakeHandle | null = null;
      if (loop === null) {
        ours.on("message", (answers: Answers) => this.#answer(member, answers));
        ours.unref(); // referenced only while tasks are in hand (run, #receive)
      } else {
        const ourWaker = new Waker(loop, () => this.#receive(member));
        this.#wakers.push(ourWaker);
        waker = ourWaker.handle;
      }
      const data: PoolData = { port: theirs, waker };
      member.worker = startTypeScriptWorker(moduleUrl, { [POOL_KEY]: data }, [theirs]);
      // An idle pool must not keep the process alive: close() is for a clean end, not required.
      member.worker.unref();
      this.#members.push(member);
    }
  }

  /** Runs handlers[task](argument) in a worker; settles with its result or its error. */
  run<Result>(task: string, argument: unknown, transfer: TransferListItem[] = []): Promise<Result> {
    if (this.#closed) return Promise.reject(new Error("this pool is closed"));
    const member = this.#members.reduce((a, b) => (b.inHand.size < a.inHand.size ? b : a));
    const id = this.#nextId++;
    return new Promise<Result>((resolve, reject) => {
      member.inHand.set(id, { id, resolve: resolve as (value: unknown) => void, reject });
      if (this.#loop === null) {
        // On Node's loop, at once; and a task in hand keeps the process alive until its answer.
        if (member.inHand.size === 1) member.port.ref();
        member.port.postMessage([{ id, task, argument }] satisfies Tasks, transfer);
        return;
      }
      // On ours, with the rest of this round's tasks, as one message at the start of the next.
      if (member.outbox.length === 0) this.#loop.callSoon(this.#send, member);
      member.outbox.push({ id, task, argument });
      member.transfer.push(...transfer);
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
      member.outbox = [];
      member.transfer = [];
      member.port.close();
    }
    await Promise.all(this.#members.map((member) => member.worker.terminate()));
  }

  // A callback of the loop's (callSoon in run): the batch of tasks given since, as one message.
  #send = (member: Member): void => {
    if (this.#closed || member.outbox.length === 0) return;
    const { outbox, transfer } = member;
    member.outbox = [];
    member.transfer = [];
    member.port.postMessage(outbox satisfies Tasks, transfer);
  };

  #receive(member: Member): void {
    // One wake-up may cover several messages: take every one waiting.
    for (;;) {
      const received = receiveMessageOnPort(member.port);
      if (received === undefined) return;
      this.#answer(member, received.message as Answers);
    }
  }

  #answer(member: Member, answers: Answers): void {
    for (const answer of answers) {
      const job = member.inHand.get(answer.id);
      if (job === undefined) continue;
      member.inHand.delete(answer.id);
      if ("error" in answer) job.reject(answer.error);
      else job.resolve(answer.result);
    }
    if (this.#loop === null && member.inHand.size === 0) member.port.unref();
  }
}

/**
 * In a pool's worker: answers the pool's tasks with these handlers, in the order they come. Does
 * nothing in the main thread or in a worker that no pool started.
 */
export function serveTasks(handlers: Handlers): void {
  if (isMainThread) return;
  const pool = (workerData as Record<string, unknown> | null)?.[POOL_KEY] as PoolData | undefined;
  if (pool === undefined) return;
  const { port, waker } = pool;
  port.on("message", async (tasks: Tasks) => {
    // In the order given: a batch's tasks one after another, and its answers in one message.
    const answers: Answers = [];
    for (const { id, task, argument } of tasks) {
      try {
        const handler = handlers[task];
        if (handler === undefined) throw new Error(`no task named ${JSON.stringify(task)}`);
        answers.push({ id, result: await handler(argument as never) });
      } catch (error) {
        answers.push({ id, error });
      }
    }
    try {
      port.postMessage(answers);
    } catch {
      // A result that cannot be copied to another thread (a function, say) fails its task only.
      for (const answer of answers) {
        try {
          port.postMessage([answer]);
        } catch (error) {
          const message = `task ${tasks.find((t) => t.id === answer.id)!.task}: ${(error as Error).message}`;
          port.postMessage([{ id: answer.id, error: new Error(message) }]);
        }
      }
    }
    // After the message is on the port: the loop reads the port when it wakes.
    if (waker !== null) wake(waker);
  });
}
