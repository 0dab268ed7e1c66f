/**
 * Worker events reach the invocation that owns their task, by task id. A task's owner listens
 * until its worker task has settled: piscina delivers what a thread posted before its result
 * (or before its death is reported), so nothing arrives after that. An event for a task
 * nobody owns is a bug somewhere; a tree it reports is ended at once rather than left running.
 */
import type { WorkerEvent } from '../../shared/wire.ts';

export type TaskEventHandler = (event: WorkerEvent) => void;

export class TaskEvents {
  readonly #owners = new Map<number, TaskEventHandler>();
  readonly #orphan: TaskEventHandler;

  constructor(orphan: TaskEventHandler) {
    this.#orphan = orphan;
  }

  /** Route the events of `taskId` to `handler`; call the returned function to stop. */
  subscribe(taskId: number, handler: TaskEventHandler): () => void {
    this.#owners.set(taskId, handler);
    return () => {
      if (this.#owners.get(taskId) === handler) this.#owners.delete(taskId);
    };
  }

  deliver(event: WorkerEvent): void {
    (this.#owners.get(event.taskId) ?? this.#orphan)(event);
  }
}
