import type { Piscina } from 'piscina';
import type {
  ConsultReply,
  ConsultTask,
  PingReply,
  PingTask,
  WorkerBoot,
  WorkerEvent,
} from '../shared/wire.ts';
import { isWorkerEvent } from '../shared/wire.ts';

/**
 * One piscina pool of consult threads. One task per thread, so a thread crash touches exactly
 * one invocation; threads start lazily and retire when idle. Workers answer with data, so a
 * rejected `run()` always means the thread was lost (unless this pool is being closed).
 */
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

/** piscina costs ~40 ms to load: the first consult pays it, never the server's start-up. */
export async function loadPiscina(): Promise<void> {
  PiscinaClass ??= (await import('piscina')).Piscina;
}

export class ThreadLostError extends Error {
  override readonly name = 'ThreadLostError';
  readonly code = 'PHONE_OPUS_THREAD_LOST';
}

export class WorkerPool {
  readonly #pool: Piscina<ConsultTask | PingTask, ConsultReply | PingReply>;
  readonly #onThreadLost: (loss: ThreadLoss) => void;
  #busy = 0;
  #closing = false;
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
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 512 },
    });
    this.#pool.on('message', (message: unknown) => {
      if (isWorkerEvent(message)) options.onEvent(message);
    });
    // Without a listener an idle thread's crash would kill the whole process.
    this.#pool.on('error', (error: unknown) => {
      if (!this.#closing) this.#onThreadLost({ kind: 'idle', message: describe(error) });
    });
  }

  get threads(): { live: number; idle: number } {
    const live = this.#pool.threads.length;
    return { live, idle: Math.max(0, live - this.#busy) };
  }

  get busy(): number {
    return this.#busy;
  }

  /**
   * Run a consult. Rejects with ThreadLostError when its thread died; `signal` is only the
   * hard fallback for a stuck thread (aborting it terminates the thread).
   */
  async runConsult(task: ConsultTask, signal?: AbortSignal): Promise<ConsultReply> {
    return (await this.#run(task, signal)) as ConsultReply;
  }

  /** Readiness probe: one thread boots and answers a no-op task. */
  async ping(signal?: AbortSignal): Promise<PingReply> {
    return (await this.#run({ kind: 'ping' }, signal)) as PingReply;
  }

  async #run(
    task: ConsultTask | PingTask,
    signal?: AbortSignal,
  ): Promise<ConsultReply | PingReply> {
    this.#busy += 1;
    try {
      return await this.#pool.run(task, signal === undefined ? {} : { signal });
    } catch (error) {
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
