/**
 * One consult's life on the host (SPEC §6–§7): its stop (the first reason wins, as execa's
 * terminate/ does), its progress, and the attempts that dispatch it to a worker thread — one,
 * or two when a lost thread's consult may be replayed. Each attempt owns its task id, its
 * deadline, the process tree its CLI runs in, and its own channel of worker events.
 */
import { processRunning } from '../../shared/proc-scan.ts';
import {
  type ConsultReply,
  type ConsultRequest,
  PID_INDEX,
  PID_SLOT_BYTES,
  type WorkerEvent,
} from '../../shared/wire.ts';
import type { Clock } from '../clock.ts';
import type { TaskEvents } from '../pool/task-events.ts';
import type { KillReason, ProcessTree, TreeRegistry } from '../pool/tree-registry.ts';
import { ThreadStartError, type WorkerPool } from '../pool/worker-pool.ts';
import type { ProgressSink } from './progress.ts';

export const CONSULT_OPERATION = 'tools/call:consult';
/** After a stop is requested, how long the worker gets to answer before its thread is ended. */
const STOP_BACKSTOP_MS = 5000;

export type ConsultCall = {
  readonly request: ConsultRequest;
  readonly timeoutMs: number;
  /** Aborted when the client cancels the request. */
  readonly signal: AbortSignal;
  readonly progress: ProgressSink | undefined;
};

export type AttemptResult =
  | { readonly kind: 'reply'; readonly reply: ConsultReply; readonly generation: number }
  /** Its thread died with it in flight; its tree has been stopped. */
  | { readonly kind: 'lost'; readonly message: string }
  /** No thread could be started for it: nothing ran. */
  | { readonly kind: 'unstarted'; readonly message: string }
  /** It was stopped and the worker did not (or need not) give an account in time. */
  | { readonly kind: 'stopped'; readonly reason: KillReason };

/** What one attempt leaves for the outcome mapping (outcome-faults.ts). */
export type AttemptRecord = {
  readonly result: AttemptResult;
  readonly stop: KillReason | undefined;
  /**
   * Whether the CLI had already exited when the stop was requested. Only then may its answer
   * stand: a CLI that is stopped while running may react by answering (the real one ends its
   * tool, runs one more turn and exits 0), and that answer is the stop's doing.
   */
  readonly exitedBeforeStop: boolean;
  readonly elapsedMs: number;
};

export type InvocationDeps = {
  readonly events: TaskEvents;
  readonly registry: TreeRegistry;
  readonly clock: Clock;
  readonly nextTaskId: () => number;
};

export class ConsultInvocation {
  readonly #call: ConsultCall;
  readonly #deps: InvocationDeps;
  #sessionId: string | null = null;
  #turns = 0;
  /** A cancel or shutdown ends the consult, not just an attempt. */
  #ended: 'cancelled' | 'shutdown' | undefined;
  #current: Attempt | undefined;
  readonly #onAbort = () => this.stop('cancelled');

  constructor(call: ConsultCall, deps: InvocationDeps) {
    this.#call = call;
    this.#deps = deps;
    call.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  get sessionId(): string | null {
    return this.#sessionId;
  }

  get turns(): number {
    return this.#turns;
  }

  get cancelled(): boolean {
    return this.#ended === 'cancelled';
  }

  /** The pool the running attempt was dispatched to. */
  get pool(): WorkerPool | undefined {
    return this.#current?.pool;
  }

  /** Stop the consult (cancel, shutdown: for good) or its running attempt (timeout, drain). */
  stop(reason: KillReason): void {
    if (reason === 'cancelled' || reason === 'shutdown') this.#ended ??= reason;
    this.#current?.stop(reason);
  }

  /** Dispatch once and wait for the attempt's account. */
  async attempt(
    pool: WorkerPool,
    generation: number,
    number: number,
    crashAfterSpawn: boolean,
  ): Promise<AttemptRecord> {
    const attempt = new Attempt(this.#deps, pool, (event) => this.#progress(event));
    this.#current = attempt;
    this.#call.progress?.started(number);
    const timer = setTimeout(() => attempt.stop('timeout'), this.#call.timeoutMs);
    if (this.#ended !== undefined) attempt.stop(this.#ended);
    try {
      return await attempt.run(this.#call.request, generation, crashAfterSpawn);
    } finally {
      clearTimeout(timer);
    }
  }

  dispose(): void {
    this.#call.signal.removeEventListener('abort', this.#onAbort);
  }

  #progress(event: WorkerEvent): void {
    if (event.type !== 'progress') return;
    const progress = event.event;
    if (progress.kind === 'session') this.#sessionId = progress.session_id;
    else this.#turns = Math.max(this.#turns, progress.turn);
    this.#call.progress?.event(progress);
  }
}

/** One dispatch of the consult to a worker thread. */
class Attempt {
  readonly pool: WorkerPool;
  readonly #deps: InvocationDeps;
  readonly #taskId: number;
  readonly #slot = new SharedArrayBuffer(PID_SLOT_BYTES);
  readonly #startedAt: number;
  readonly #onProgress: (event: WorkerEvent) => void;
  #tree: ProcessTree | undefined;
  #stop: KillReason | undefined;
  #exitedBeforeStop = false;
  #settled = false;
  readonly #hardStop = new AbortController();
  #backstop: NodeJS.Timeout | undefined;
  #settleStopped: (result: AttemptResult) => void = () => {};
  readonly #stopped = new Promise<AttemptResult>((resolve) => {
    this.#settleStopped = resolve;
  });

  constructor(deps: InvocationDeps, pool: WorkerPool, onProgress: (event: WorkerEvent) => void) {
    this.#deps = deps;
    this.pool = pool;
    this.#taskId = deps.nextTaskId();
    this.#startedAt = deps.clock.monotonicMs();
    this.#onProgress = onProgress;
  }

  stop(reason: KillReason): void {
    if (this.#stop !== undefined || this.#settled) return;
    this.#stop = reason;
    const pid = this.#pid();
    this.#exitedBeforeStop = pid > 0 && !processRunning(pid);
    void this.#adopt()?.stop(reason);
    // A cancelled call frees its slot at once; the others wait for the worker's account.
    if (reason === 'cancelled') this.#settleStopped({ kind: 'stopped', reason });
    this.#backstop = setTimeout(() => {
      this.#hardStop.abort();
      this.#settleStopped({ kind: 'stopped', reason });
    }, STOP_BACKSTOP_MS);
    this.#backstop.unref();
  }

  async run(
    request: ConsultRequest,
    generation: number,
    crashAfterSpawn: boolean,
  ): Promise<AttemptRecord> {
    const events = this.#deps.events.subscribe(this.#taskId, (event) => this.#event(event));
    const running = this.pool
      .runConsult(
        {
          kind: 'consult',
          taskId: this.#taskId,
          generation,
          operation: CONSULT_OPERATION,
          request,
          crashAfterSpawn,
          pidSlot: this.#slot,
        },
        this.#hardStop.signal,
      )
      .then(
        (reply): AttemptResult => ({ kind: 'reply', reply, generation }),
        (error: Error): AttemptResult =>
          error instanceof ThreadStartError
            ? { kind: 'unstarted', message: error.message }
            : { kind: 'lost', message: error.message },
      );
    // Events keep coming until the worker's task settles (and may trail its reply), also after
    // a stop ended this call.
    void running.then((settled) => {
      events.end(settled.kind === 'reply' ? settled.reply.events : undefined);
      if (this.#backstop !== undefined) clearTimeout(this.#backstop);
    });
    const result = await Promise.race([running, this.#stopped]);
    this.#settled = true;
    // The thread died with the consult in flight: its CLI may have run. Make sure it is gone.
    if (result.kind === 'lost') await this.#adopt()?.stop('thread_lost');
    return {
      result,
      stop: this.#stop,
      exitedBeforeStop: this.#exitedBeforeStop,
      elapsedMs: Math.round(this.#deps.clock.monotonicMs() - this.#startedAt),
    };
  }

  #event(event: WorkerEvent): void {
    switch (event.type) {
      case 'spawned': {
        // Already adopted from the pid slot (the report trailed the thread's death).
        if (this.#tree?.leader.pid === event.pgid) break;
        this.#tree = this.#deps.registry.track(event.pgid, event.start);
        // Reported after a stop (or as its thread died): it is ended on arrival.
        if (this.#stop !== undefined) void this.#tree.stop(this.#stop);
        break;
      }
      case 'members':
        this.#tree?.addMembers(event.members);
        break;
      case 'reaped':
        if (this.#tree !== undefined && !this.#tree.stopping)
          this.#deps.registry.release(this.#tree);
        break;
      case 'progress':
        this.#onProgress(event);
        break;
    }
  }

  #pid(): number {
    return Atomics.load(new Int32Array(this.#slot), PID_INDEX);
  }

  /** The CLI's tree, tracked from the shared pid slot if its report never came (a crash). */
  #adopt(): ProcessTree | undefined {
    const pid = this.#pid();
    if (this.#tree === undefined && pid > 0) this.#tree = this.#deps.registry.track(pid, '');
    return this.#tree;
  }
}
