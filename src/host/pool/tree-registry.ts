import {
  memberAlive,
  readStat,
  signalMembers,
  snapshotDescendants,
  type TreeMember,
} from '../../shared/proc-scan.ts';
import { KILL_GRACE_MS } from '../../shared/process-tree.ts';

/**
 * The host's registry of live CLI process trees (SPEC §6.4). Workers report each CLI's group
 * right after spawn, and the members they see in its tree as it runs; the host kills trees on
 * cancel, timeout, thread death, drain timeout and exit: SIGTERM, then SIGKILL after the grace
 * period. A tree reported for a task that is already being stopped is killed on arrival, so a
 * report racing a crash still ends it.
 */
export type KillReason = 'cancelled' | 'timeout' | 'thread_lost' | 'shutdown' | 'drain_timeout';

const POLL_MS = 25;

type Tree = {
  readonly leader: TreeMember;
  readonly members: Map<string, TreeMember>;
  /** The one stop of this tree (counted once), however many callers ask for it. */
  stopping?: Promise<void>;
};

const key = (m: TreeMember) => `${m.pid}:${m.start}`;

export class ProcessRegistry {
  /** taskId → leader pid → tree. */
  readonly #tasks = new Map<number, Map<number, Tree>>();
  readonly #stopping = new Map<number, KillReason>();
  readonly #onKill: (reason: KillReason) => void;
  readonly #graceMs: number;

  constructor(onKill: (reason: KillReason) => void = () => {}, graceMs = KILL_GRACE_MS) {
    this.#onKill = onKill;
    this.#graceMs = graceMs;
  }

  add(taskId: number, pgid: number, start: string): void {
    let trees = this.#tasks.get(taskId);
    if (trees === undefined) {
      trees = new Map();
      this.#tasks.set(taskId, trees);
    }
    // A report without a start time (it could not be read) takes the one /proc shows now.
    const leader = { pid: pgid, pgid, start: start || (readStat(String(pgid))?.start ?? '') };
    trees.set(pgid, { leader, members: new Map([[key(leader), leader]]) });
    const reason = this.#stopping.get(taskId);
    if (reason !== undefined) void this.#kill(trees.get(pgid) as Tree, reason, this.#graceMs);
  }

  /** Register a leader read from the task's shared pid slot, unless its report already came. */
  adopt(taskId: number, pgid: number): void {
    if (pgid <= 0 || this.#tasks.get(taskId)?.has(pgid)) return;
    this.add(taskId, pgid, '');
  }

  addMembers(taskId: number, members: readonly TreeMember[]): void {
    const trees = this.#tasks.get(taskId);
    const tree = trees?.values().next().value;
    if (tree === undefined) return;
    for (const member of members) tree.members.set(key(member), member);
  }

  /** The worker reaped this tree itself after its leader exited. */
  remove(taskId: number, pgid: number): void {
    const trees = this.#tasks.get(taskId);
    trees?.delete(pgid);
    if (trees?.size === 0) this.#tasks.delete(taskId);
  }

  /** Stop every tree of a task; resolves when none of their processes lives any more. */
  async stop(taskId: number, reason: KillReason, graceMs = this.#graceMs): Promise<void> {
    if (!this.#stopping.has(taskId)) this.#stopping.set(taskId, reason);
    const trees = [...(this.#tasks.get(taskId)?.values() ?? [])];
    await Promise.all(trees.map((tree) => this.#kill(tree, reason, graceMs)));
    for (const tree of trees) this.remove(taskId, tree.leader.pid);
  }

  /** The task is over: forget it (late reports for it are still killed for a while). */
  forget(taskId: number): void {
    this.#tasks.delete(taskId);
    setTimeout(() => this.#stopping.delete(taskId), 10_000).unref();
  }

  /** Mark a task so that a tree reported late (after a crash or a stop) is killed on arrival. */
  poison(taskId: number, reason: KillReason): void {
    if (!this.#stopping.has(taskId)) this.#stopping.set(taskId, reason);
  }

  async stopAll(reason: KillReason, graceMs = this.#graceMs): Promise<void> {
    await Promise.all([...this.#tasks.keys()].map((taskId) => this.stop(taskId, reason, graceMs)));
  }

  /** Last line of defence in `process.on('exit')`: synchronous SIGKILL of everything. */
  killAllNow(): void {
    for (const trees of this.#tasks.values()) {
      for (const tree of trees.values()) {
        signalMembers([...tree.members.values(), ...descendants(tree.leader)], 'SIGKILL');
      }
    }
  }

  get liveGroups(): number {
    let n = 0;
    for (const trees of this.#tasks.values()) n += trees.size;
    return n;
  }

  #kill(tree: Tree, reason: KillReason, graceMs: number): Promise<void> {
    tree.stopping ??= this.#end(tree, reason, graceMs);
    return tree.stopping;
  }

  async #end(tree: Tree, reason: KillReason, graceMs: number): Promise<void> {
    // Snapshot the tree before the leader dies: orphans are no longer findable by parentage.
    for (const member of descendants(tree.leader)) tree.members.set(key(member), member);
    const members = [...tree.members.values()];
    // A leader nobody reaped (a zombie) means its thread died with it running: in a PID
    // namespace the kernel ended the tree then, for this very reason.
    const unreaped = readStat(String(tree.leader.pid))?.start === tree.leader.start;
    // Groups are signalled through their live members only (signalMembers): once a tree's
    // processes are all gone its group number may already belong to someone else.
    const alive = () => members.some(memberAlive);
    const signalled = signalMembers(members, 'SIGTERM');
    if (signalled > 0 || unreaped) this.#onKill(reason);
    if (signalled === 0) return; // already gone
    const deadline = performance.now() + graceMs;
    while (alive() && performance.now() < deadline) await sleep(POLL_MS);
    if (!alive()) return;
    signalMembers(members, 'SIGKILL');
    const hardDeadline = performance.now() + 1000;
    while (alive() && performance.now() < hardDeadline) await sleep(POLL_MS);
  }
}

/** The leader's descendants, if it is still the leader (its pid may since have been reused). */
const descendants = (leader: TreeMember): TreeMember[] =>
  memberAlive(leader) ? snapshotDescendants(leader.pid) : [];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
