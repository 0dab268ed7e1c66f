/**
 * Hot rollout of worker code (SPEC §9). After each message the host compares the worker
 * bundle with the one the current pool runs; when it changed (and has settled), a candidate
 * pool is built from the new file and must prove itself ready (one thread boots and answers a
 * no-op) before new consults go to it. The old pool finishes its in-flight consults and is
 * closed; past the drain bound its remaining work is killed. A candidate that fails readiness
 * leaves the old pool in charge; a later change retries. The tool catalog lives on the host,
 * so a rollout never changes it. A changed host bundle cannot be swapped in place: it is only
 * reported, so the operator knows a restart is due.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { WorkerBoot, WorkerEvent } from '../../shared/wire.ts';
import type { Logger } from '../log.ts';
import type { RolloutState } from '../observability/snapshots.ts';
import { loadPiscina, type ThreadLoss, WorkerPool } from './worker-pool.ts';

export type RolloutOptions = {
  readonly workerFile: string;
  readonly hostFile: string;
  /** The threads' settings; awaited before the first pool is built (containment is probed). */
  readonly boot: () => Promise<Omit<WorkerBoot, 'build'>>;
  readonly maxThreads: number;
  readonly log: Logger;
  readonly onEvent: (event: WorkerEvent) => void;
  /** A thread of a serving (current or draining) pool was lost. */
  readonly onThreadLost: (loss: ThreadLoss) => void;
  /** A new pool took over. */
  readonly onRolled: () => void;
  /** A candidate failed readiness. */
  readonly onFailed: (detail: string) => void;
  /** How long the old pool may take to finish its consults before they are stopped. */
  readonly drainTimeoutMs: number;
  readonly readinessTimeoutMs?: number;
  readonly settleMs?: number;
};

const CHECK_EVERY_MS = 500;

type Stamp = { size: number; mtimeMs: number; ino: number } | null;

const stampOf = (file: string): Stamp => {
  try {
    const s = statSync(file);
    return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
  } catch {
    return null;
  }
};
const sameStamp = (a: Stamp, b: Stamp) =>
  a === b ||
  (a !== null && b !== null && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino);

/** Identifies a bundle's content (full consult detail shows it as `build`). */
export function fingerprint(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
  } catch {
    return 'unreadable';
  }
}

export class PoolManager {
  /** A replaced pool outlived its drain bound: stop the consults it still runs. */
  ondraintimeout?: (pool: WorkerPool) => void;
  readonly #o: RolloutOptions;
  /** Built by the first consult (threads, and even piscina, are lazy). */
  #current: WorkerPool | undefined;
  #lastCheck = Number.NEGATIVE_INFINITY;
  readonly #draining = new Set<WorkerPool>();
  #state: RolloutState = 'stable';
  #workerStamp: Stamp;
  readonly #hostStamp: Stamp;
  #hostChanged = false;
  #failedBuild: string | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #rolling: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #unavailable: string | undefined;

  constructor(options: RolloutOptions) {
    this.#o = options;
    this.#workerStamp = stampOf(options.workerFile);
    this.#hostStamp = stampOf(options.hostFile);
  }

  /**
   * The pool new consults go to. Throws when it cannot be built (e.g. no file descriptors
   * left); the next call tries again, and until one succeeds `unavailable` says why.
   */
  async current(): Promise<WorkerPool> {
    if (this.#current === undefined) {
      try {
        loadPiscina();
        const boot = await this.#o.boot();
        this.#current ??= this.#createPool(fingerprint(this.#o.workerFile), boot);
        this.#unavailable = undefined;
      } catch (error) {
        this.#unavailable = describeError(error);
        throw error;
      }
    }
    return this.#current;
  }

  /** Why consults cannot start right now (the pool or its threads cannot be built), if so. */
  get unavailable(): string | undefined {
    return this.#unavailable ?? this.#current?.startFailure;
  }

  /** Whether a pool was ever built (a consult came). */
  get started(): boolean {
    return this.#current !== undefined;
  }

  get state(): RolloutState {
    return this.#state;
  }

  get hostCodeChanged(): boolean {
    return this.#hostChanged;
  }

  /** Threads of every pool still alive (the current one and any draining). */
  get threads(): { live: number; idle: number } {
    let live = 0;
    let idle = 0;
    for (const pool of this.#serving()) {
      const t = pool.threads;
      live += t.live;
      idle += t.idle;
    }
    return { live, idle };
  }

  #serving(): WorkerPool[] {
    return this.#current === undefined ? [...this.#draining] : [this.#current, ...this.#draining];
  }

  /**
   * Called after each inbound message: two stat calls, nothing more unless something changed,
   * and at most every CHECK_EVERY_MS, so that a burst of messages does not stat on each one.
   */
  check(): void {
    if (this.#closed) return;
    const now = performance.now();
    if (now - this.#lastCheck < CHECK_EVERY_MS) return;
    this.#lastCheck = now;
    if (!this.#hostChanged && !sameStamp(stampOf(this.#o.hostFile), this.#hostStamp)) {
      this.#hostChanged = true;
      this.#o.log('the host bundle changed on disk; restart the server to run the new host code');
    }
    const stamp = stampOf(this.#o.workerFile);
    if (sameStamp(stamp, this.#workerStamp)) return;
    this.#workerStamp = stamp;
    if (this.#state !== 'rolling') this.#state = 'pending';
    // Let a file that is being written settle before reading it.
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      void this.rollout(false);
    }, this.#o.settleMs ?? 250);
  }

  /** Replace the pool. `force` rolls even when the bundle is unchanged (test hook). */
  rollout(force: boolean): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#rolling !== undefined) {
      this.#again = true;
      return this.#rolling;
    }
    this.#rolling = this.#roll(force).finally(() => {
      this.#rolling = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.rollout(false);
      }
    });
    return this.#rolling;
  }

  async #roll(force: boolean): Promise<void> {
    try {
      loadPiscina();
    } catch (error) {
      this.#state = 'failed';
      this.#o.onFailed(`worker rollout could not start: ${describeError(error)}`);
      return;
    }
    const build = fingerprint(this.#o.workerFile);
    if (!force && (build === this.#current?.build || build === this.#failedBuild)) {
      // Unchanged content (a touch), or the very candidate that already failed.
      this.#state = build === this.#failedBuild ? 'failed' : 'stable';
      return;
    }
    this.#state = 'rolling';
    const candidate = this.#createPool(build, await this.#o.boot());
    try {
      const pong = await candidate.ping(AbortSignal.timeout(this.#o.readinessTimeoutMs ?? 10_000));
      if (pong.status !== 'pong')
        throw new Error('the candidate answered the readiness probe wrongly');
    } catch (error) {
      await candidate.destroy().catch(() => {});
      this.#failedBuild = build;
      this.#state = 'failed';
      const detail = `worker rollout to build ${build} failed readiness: ${(error as Error).message}; build ${this.#current?.build ?? '(none yet)'} stays in charge`;
      this.#o.log(detail);
      this.#o.onFailed(detail);
      return;
    }
    const old = this.#current;
    this.#current = candidate;
    this.#failedBuild = undefined;
    this.#state = 'stable';
    this.#o.onRolled();
    this.#o.log(`worker code rolled out: build ${old?.build ?? '(none yet)'} → ${build}`);
    if (old !== undefined) void this.#drain(old);
  }

  async #drain(pool: WorkerPool): Promise<void> {
    this.#draining.add(pool);
    const timer = setTimeout(() => {
      this.ondraintimeout?.(pool);
      void pool.destroy().catch(() => {});
    }, this.#o.drainTimeoutMs);
    timer.unref();
    try {
      await pool.close();
    } catch {
      // destroyed at the drain bound
    } finally {
      clearTimeout(timer);
      this.#draining.delete(pool);
    }
  }

  #createPool(build: string, boot: Omit<WorkerBoot, 'build'>): WorkerPool {
    const pool: WorkerPool = new WorkerPool({
      workerFile: this.#o.workerFile,
      boot: { ...boot, build },
      maxThreads: this.#o.maxThreads,
      onEvent: this.#o.onEvent,
      // A candidate's failures are a failed rollout, not lost threads of the service.
      onThreadLost: (loss) => {
        if (pool === this.#current || this.#draining.has(pool)) this.#o.onThreadLost(loss);
      },
    });
    return pool;
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    if (this.#settleTimer !== undefined) clearTimeout(this.#settleTimer);
    await Promise.all(this.#serving().map((p) => p.destroy().catch(() => {})));
  }
}

function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined || message.includes(code) ? message : `${message} (${code})`;
}
