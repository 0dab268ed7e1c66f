import { groupAlive, KILL_GRACE_MS, signalGroup } from '../shared/process-tree.ts';

/**
 * The host's registry of live CLI process groups (SPEC §6.4). Workers report each group right
 * after spawn; the host kills groups on cancel, timeout, thread death, drain timeout and exit:
 * SIGTERM, then SIGKILL after the grace period. A group reported for a task that is already
 * being stopped is killed on arrival, so a report racing a crash still ends the tree.
 */
export type KillReason = 'cancelled' | 'timeout' | 'thread_lost' | 'shutdown' | 'drain_timeout';

const POLL_MS = 25;

export class ProcessRegistry {
  readonly #groups = new Map<number, Set<number>>();
  readonly #stopping = new Map<number, KillReason>();
  readonly #onKill: (reason: KillReason) => void;
  readonly #graceMs: number;

  constructor(onKill: (reason: KillReason) => void = () => {}, graceMs = KILL_GRACE_MS) {
    this.#onKill = onKill;
    this.#graceMs = graceMs;
  }

  add(taskId: number, pgid: number): void {
    let set = this.#groups.get(taskId);
    if (set === undefined) {
      set = new Set();
      this.#groups.set(taskId, set);
    }
    set.add(pgid);
    const reason = this.#stopping.get(taskId);
    if (reason !== undefined) void this.#kill(pgid, reason);
  }

  /** The worker reaped this group itself after its leader exited. */
  remove(taskId: number, pgid: number): void {
    const set = this.#groups.get(taskId);
    set?.delete(pgid);
    if (set?.size === 0) this.#groups.delete(taskId);
  }

  /** Stop every group of a task; resolves when none of them exists any more. */
  async stop(taskId: number, reason: KillReason, graceMs = this.#graceMs): Promise<void> {
    if (!this.#stopping.has(taskId)) this.#stopping.set(taskId, reason);
    const pgids = [...(this.#groups.get(taskId) ?? [])];
    await Promise.all(pgids.map((pgid) => this.#kill(pgid, reason, graceMs)));
    for (const pgid of pgids) this.remove(taskId, pgid);
  }

  /** The task is over: forget it (late reports for it are still killed for a while). */
  forget(taskId: number): void {
    this.#groups.delete(taskId);
    setTimeout(() => this.#stopping.delete(taskId), 10_000).unref();
  }

  /** Mark a finished task so that a group reported late (after a crash) is killed on arrival. */
  poison(taskId: number, reason: KillReason): void {
    if (!this.#stopping.has(taskId)) this.#stopping.set(taskId, reason);
  }

  async stopAll(reason: KillReason, graceMs = this.#graceMs): Promise<void> {
    await Promise.all([...this.#groups.keys()].map((taskId) => this.stop(taskId, reason, graceMs)));
  }

  /** Last line of defence in `process.on('exit')`: synchronous SIGKILL of everything. */
  killAllNow(): void {
    for (const set of this.#groups.values()) for (const pgid of set) signalGroup(pgid, 'SIGKILL');
  }

  get liveGroups(): number {
    let n = 0;
    for (const set of this.#groups.values()) n += set.size;
    return n;
  }

  async #kill(pgid: number, reason: KillReason, graceMs = this.#graceMs): Promise<void> {
    if (!signalGroup(pgid, 'SIGTERM')) return;
    this.#onKill(reason);
    const deadline = performance.now() + graceMs;
    while (groupAlive(pgid) && performance.now() < deadline) await sleep(POLL_MS);
    if (!groupAlive(pgid)) return;
    signalGroup(pgid, 'SIGKILL');
    const hardDeadline = performance.now() + 1000;
    while (groupAlive(pgid) && performance.now() < hardDeadline) await sleep(POLL_MS);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
