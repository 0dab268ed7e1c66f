/**
 * Worker events reach the invocation that owns their task, by task id. Events come over the
 * thread's parentPort, the task's reply over piscina's own port, and the two are not ordered:
 * a reply (or a death) may arrive before the events posted ahead of it. So an owner keeps
 * listening after its task settles: until it has the number of events the reply counted, or,
 * without a count (a lost thread, whose events arrive by its 'exit'), for a short while. An
 * event for a task nobody owns is a bug somewhere; a tree it reports is ended at once rather
 * than left running.
 */
import type { WorkerEvent } from '../../shared/wire.ts';

export type TaskEventHandler = (event: WorkerEvent) => void;

/** How long an owner keeps listening for events its settled task may still have on the way. */
const LATE_EVENTS_MS = 2000;

export type Subscription = {
  /** The task settled; `expected` = the events its reply counted (undefined: not known). */
  end(expected?: number): void;
};

type Owner = {
  readonly handler: TaskEventHandler;
  delivered: number;
  expected?: number | undefined;
};

export class TaskEvents {
  readonly #owners = new Map<number, Owner>();
  readonly #orphan: TaskEventHandler;
  readonly #lateMs: number;

  constructor(orphan: TaskEventHandler, lateMs = LATE_EVENTS_MS) {
    this.#orphan = orphan;
    this.#lateMs = lateMs;
  }

  /** Route the events of `taskId` to `handler` until the subscription ends. */
  subscribe(taskId: number, handler: TaskEventHandler): Subscription {
    const owner: Owner = { handler, delivered: 0 };
    this.#owners.set(taskId, owner);
    const forget = () => {
      if (this.#owners.get(taskId) === owner) this.#owners.delete(taskId);
    };
    return {
      end: (expected) => {
        if (expected !== undefined && owner.delivered >= expected) {
          forget();
          return;
        }
        owner.expected = expected;
        setTimeout(forget, this.#lateMs).unref();
      },
    };
  }

  deliver(event: WorkerEvent): void {
    const owner = this.#owners.get(event.taskId);
    if (owner === undefined) {
      this.#orphan(event);
      return;
    }
    owner.delivered += 1;
    owner.handler(event);
    if (owner.expected !== undefined && owner.delivered >= owner.expected)
      this.#owners.delete(event.taskId);
  }

  /** Tasks whose events are still routed (for tests). */
  get size(): number {
    return this.#owners.size;
  }
}
