/**
 * One piscina pool of consult threads. One task per thread, so a thread crash touches exactly
 * one invocation; threads start lazily and retire when idle. Workers answer with data, so a
 * rejected `run()` always means the thread was lost (unless this pool is being closed).
 */
import { createRequire } from 'node:module';
import type { Piscina } from 'piscina';
import type {
  ConsultReply,
  ConsultTask,
  PingReply,
  PingTask,
  WorkerBoot,
  WorkerEvent,
} from '../../shared/wire.ts';
import { isWorkerEvent, STARTED_INDEX } from '../../shared/wire.ts';

export type ThreadLoss = { readonly kind: 'task' | 'idle'; readonly message: string };

export type WorkerPoolOptions = {
  readonly workerFile: string;
  readonly boot: WorkerBoot;
  readonly maxThreads: number;
  readonly idleTimeoutMs?: number;
  /** A runaway thread dies alone (ERR_WORKER_OUT_OF_MEMORY) instead of taking the host with it. */
  readonly maxHeapMb?: number;
  readonly onEvent: (event: WorkerEvent) => void;
  readonly onThreadLost: (loss: ThreadLoss) => void;
};

let PiscinaClass: typeof Piscina | undefined;

/**
 * piscina costs ~40 ms to load: the first consult pays it, never the server's start-up. It is
 * loaded by its resolved path, found beforehand (`locatePiscina`, right after the session
 * opens): module resolution caches a package.json it could not read, so resolving during a
 * descriptor shortage (EMFILE) would break every later consult; a load by path fails that
 * once and works on the next try.
 */
let piscinaPath: string | undefined;

export function locatePiscina(): void {
  piscinaPath ??= createRequire(import.meta.url).resolve('piscina');
}

export function loadPiscina(): void {
  if (PiscinaClass !== undefined) return;
  const load = createRequire(import.meta.url);
  PiscinaClass = (load(piscinaPath ?? 'piscina') as typeof import('piscina')).Piscina;
}

export class ThreadLostError extends Error {
  override readonly name = 'ThreadLostError';
  readonly code = 'PHONE_OPUS_THREAD_LOST';
}

/** No thread could be started for the task (e.g. EMFILE): it never ran. */
export class ThreadStartError extends Error {
  override readonly name = 'ThreadStartError';
  readonly code = 'PHONE_OPUS_THREAD_START';
}

/**
 * A pool thread's young generation. V8's default lets it grow to tens of MB per thread, which a
 * thread that parses one consult's output at a time never needs: capped, RSS grows about half as
 * much over thousands of consults at no measurable CPU cost (docs/benchmarks.md, rss_growth).
 */
const THREAD_YOUNG_GENERATION_MB = 3;

/** A consult waiting for a thread: abortable without harm as long as it has not started. */
type Waiting = { readonly started: () => boolean; readonly controller: AbortController };

export class WorkerPool {
  readonly #pool: Piscina<ConsultTask | PingTask, ConsultReply | PingReply>;
  readonly #onThreadLost: (loss: ThreadLoss) => void;
  #busy = 0;
  #closing = false;
  #startFailure: string | undefined;
  readonly #waiting = new Set<Waiting>();
  readonly build: string;

  constructor(options: WorkerPoolOptions) {
    this.build = options.boot.build;
    this.#onThreadLost = options.onThreadLost;
    if (PiscinaClass === undefined)
      throw new Error('loadPiscina() must run before a pool is built');
    this.#pool = new PiscinaClass({
      filename: options.workerFile,
      minThreads: 0,
      maxThreads: options.maxThreads,
      concurrentTasksPerWorker: 1,
      idleTimeout: options.idleTimeoutMs ?? 60_000,
      // With the default 'sync', one task's stray exception rejects the next task.
      atomics: 'disabled',
      stricterFIFO: true,
      workerData: options.boot,
      recordTiming: false,
      resourceLimits: {
        maxOldGenerationSizeMb: options.maxHeapMb ?? 512,
        maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB,
      },
    });
    this.#pool.on('message', (message: unknown) => {
      if (isWorkerEvent(message)) options.onEvent(message);
    });
    // Without a listener an idle thread's crash would kill the whole process.
    this.#pool.on('error', (error: unknown) => {
      if (this.#closing) return;
      if ((error as NodeJS.ErrnoException).code === 'ERR_WORKER_INIT_FAILED') {
        // A thread that never came up lost nothing. piscina would leave the consults that
        // waited for it queued until some later run() spawns another thread: fail them now.
        this.#startFailure = describe(error);
        for (const waiting of this.#waiting) {
          if (!waiting.started()) waiting.controller.abort(this.#startFailure);
        }
        return;
      }
      this.#onThreadLost({ kind: 'idle', message: describe(error) });
    });
    this.#pool.on('workerCreate', () => {
      this.#startFailure = undefined;
    });
  }

  /** Why the last thread could not start, until one does. */
  get startFailure(): string | undefined {
    return this.#startFailure;
  }

  get threads(): { live: number; idle: number } {
    const live = this.#pool.threads.length;
    return { live, idle: Math.max(0, live - this.#busy) };
  }

  /**
   * Run a consult. Rejects with ThreadLostError when its thread died; `signal` is only the
   * hard fallback for a stuck thread (aborting it terminates the thread).
   */
  async runConsult(task: ConsultTask, signal?: AbortSignal): Promise<ConsultReply> {
    const slot = new Int32Array(task.pidSlot);
    const waiting: Waiting = {
      started: () => Atomics.load(slot, STARTED_INDEX) === 1,
      controller: new AbortController(),
    };
    this.#waiting.add(waiting);
    const signals = signal === undefined ? [] : [signal];
    try {
      return (await this.#run(
        task,
        AbortSignal.any([...signals, waiting.controller.signal]),
        waiting.controller.signal,
      )) as ConsultReply;
    } finally {
      this.#waiting.delete(waiting);
    }
  }

  /** Readiness probe: one thread boots and answers a no-op task. */
  async ping(signal?: AbortSignal): Promise<PingReply> {
    return (await this.#run({ kind: 'ping' }, signal)) as PingReply;
  }

  async #run(
    task: ConsultTask | PingTask,
    signal?: AbortSignal,
    notStarted?: AbortSignal,
  ): Promise<ConsultReply | PingReply> {
    this.#busy += 1;
    try {
      return await this.#pool.run(task, signal === undefined ? {} : { signal });
    } catch (error) {
      if (notStarted?.aborted) throw new ThreadStartError(String(notStarted.reason));
      const message = describe(error);
      if (!this.#closing) this.#onThreadLost({ kind: 'task', message });
      throw new ThreadLostError(message);
    } finally {
      this.#busy -= 1;
    }
  }

  /** Let in-flight tasks finish, then end the threads. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#pool.close();
  }

  /** End the threads now (their CLI groups are the registry's to kill). */
  async destroy(): Promise<void> {
    this.#closing = true;
    await this.#pool.destroy();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.message : `${error.message} (${code})`;
  }
  return String(error);
}
