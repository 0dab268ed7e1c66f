/**
 * The host's registry of live CLI process trees (SPEC §6.4): every tree a worker reported is
 * tracked here until it is gone, so that shutdown and the exit handler can end them all. Each
 * tree is stopped at most once (SIGTERM, then SIGKILL after the grace period, through
 * shared/tree-kill.ts), however many parties ask.
 */
import {
  memberAlive,
  readStat,
  signalMembers,
  snapshotDescendants,
  type TreeMember,
} from '../../shared/proc-scan.ts';
import { KILL_GRACE_MS, killTree } from '../../shared/tree-kill.ts';

export type KillReason = 'cancelled' | 'timeout' | 'thread_lost' | 'shutdown' | 'drain_timeout';

const key = (m: TreeMember) => `${m.pid}:${m.start}`;

/** One CLI's tree, as the host knows it: the leader and every member seen so far. */
export class ProcessTree {
  readonly leader: TreeMember;
  readonly #members = new Map<string, TreeMember>();
  readonly #registry: TreeRegistry;
  #stopping: Promise<void> | undefined;

  constructor(leader: TreeMember, registry: TreeRegistry) {
    this.leader = leader;
    this.#members.set(key(leader), leader);
    this.#registry = registry;
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Processes the worker saw in the tree, some possibly in sessions of their own. */
  addMembers(members: readonly TreeMember[]): void {
    for (const member of members) this.#members.set(key(member), member);
  }

  /** End the tree (once); resolves when none of its processes lives any more. */
  stop(reason: KillReason, graceMs = this.#registry.graceMs): Promise<void> {
    this.#stopping ??= this.#end(reason, graceMs).finally(() => this.#registry.release(this));
    return this.#stopping;
  }

  /** Every member, and the leader's descendants if it still leads (a snapshot before it dies). */
  members(): TreeMember[] {
    for (const member of descendants(this.leader)) this.#members.set(key(member), member);
    return [...this.#members.values()];
  }

  async #end(reason: KillReason, graceMs: number): Promise<void> {
    const members = this.members();
    // A leader nobody reaped (a zombie) means its thread died with it running: in a PID
    // namespace the kernel ended the tree then, for this very reason.
    const unreaped = readStat(String(this.leader.pid))?.start === this.leader.start;
    const signalled = await killTree(members, { first: 'SIGTERM', graceMs });
    if (signalled > 0 || unreaped) this.#registry.counted(reason);
  }
}

export class TreeRegistry {
  readonly #live = new Set<ProcessTree>();
  readonly #onKill: (reason: KillReason) => void;
  readonly graceMs: number;

  constructor(onKill: (reason: KillReason) => void = () => {}, graceMs = KILL_GRACE_MS) {
    this.#onKill = onKill;
    this.graceMs = graceMs;
  }

  /** Start tracking a CLI's tree from its leader (start '' = read it from /proc now). */
  track(pid: number, start: string): ProcessTree {
    const leader = { pid, pgid: pid, start: start || (readStat(String(pid))?.start ?? '') };
    const tree = new ProcessTree(leader, this);
    this.#live.add(tree);
    return tree;
  }

  /** The tree is gone (its worker reaped it, or it was stopped). */
  release(tree: ProcessTree): void {
    this.#live.delete(tree);
  }

  /** A tree stopped for this reason had processes to end (metrics count it). */
  counted(reason: KillReason): void {
    this.#onKill(reason);
  }

  get size(): number {
    return this.#live.size;
  }

  async stopAll(reason: KillReason, graceMs = this.graceMs): Promise<void> {
    await Promise.all([...this.#live].map((tree) => tree.stop(reason, graceMs)));
  }

  /** Last line of defence in `process.on('exit')`: synchronous SIGKILL of everything. */
  killAllNow(): void {
    for (const tree of this.#live) signalMembers(tree.members(), 'SIGKILL');
  }
}

/** The leader's descendants, if it is still the leader (its pid may since have been reused). */
const descendants = (leader: TreeMember): TreeMember[] =>
  memberAlive(leader) ? snapshotDescendants(leader.pid) : [];
