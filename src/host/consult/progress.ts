/**
 * `notifications/progress` for one consult (SPEC §7): at start, on each turn and tool use, and
 * at least every interval; `progress` strictly increases and a failed send never fails the call.
 */
import type { ProgressEvent } from '../../shared/wire.ts';

export type SendProgress = (params: {
  progressToken: string | number;
  progress: number;
  message: string;
}) => Promise<void>;

/** Where a consult's progress goes: its job, which passes it on to every call waiting on it. */
export type ProgressSink = {
  /** An attempt was dispatched (1, or 2 for a replay). */
  readonly started: (attempt: number) => void;
  readonly event: (event: ProgressEvent) => void;
};

export class ProgressReporter implements ProgressSink {
  readonly #token: string | number;
  readonly #send: SendProgress;
  readonly #startedAt: number;
  readonly #now: () => number;
  #count = 0;
  #turn = 0;
  #lastTool: string | undefined;
  #model: string | null = null;
  #phase = 'queued';
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(token: string | number, send: SendProgress, intervalMs: number, now: () => number) {
    this.#token = token;
    this.#send = send;
    this.#now = now;
    this.#startedAt = now();
    this.#timer = setInterval(() => this.#emit(), intervalMs);
    this.#timer.unref();
  }

  started(attempt: number): void {
    this.#phase = attempt > 1 ? `retrying (attempt ${attempt})` : 'claude starting';
    this.#emit();
  }

  event(event: ProgressEvent): void {
    if (event.kind === 'session') {
      this.#model = event.model;
      if (this.#turn === 0) this.#phase = 'claude running';
      return;
    }
    this.#turn = event.turn;
    this.#phase = 'claude running';
    const tool = event.tools.at(-1);
    if (tool !== undefined) this.#lastTool = tool;
    this.#emit();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** `turn 3 · Read src/app.ts · 95 s` */
  message(): string {
    const seconds = Math.round((this.#now() - this.#startedAt) / 1000);
    const parts = this.#turn === 0 ? [this.#phase] : [`turn ${this.#turn}`];
    if (this.#turn > 0 && this.#lastTool !== undefined) parts.push(this.#lastTool);
    parts.push(`${seconds} s`);
    if (this.#turn === 0 && this.#model !== null) parts.push(this.#model);
    return parts.join(' · ');
  }

  #emit(): void {
    if (this.#closed) return;
    this.#count += 1;
    this.#send({
      progressToken: this.#token,
      progress: this.#count,
      message: this.message(),
    }).catch(() => {
      // A lost progress notification must never fail the consult.
    });
  }
}
