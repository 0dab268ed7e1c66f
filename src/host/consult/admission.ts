/**
 * Consult admission (SPEC §7): at most `capacity` run at once, up to `maxQueue` wait in FIFO
 * order, and beyond that a call is refused at once. A waiter whose request is cancelled
 * leaves the queue without ever running.
 */
export type Release = () => void;
export type Admitted = { readonly kind: 'admitted'; readonly release: Release };
export type AdmissionResult =
  | Admitted
  | { readonly kind: 'overloaded' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'closed' };

type Waiter = { readonly grant: (release: Release) => void; readonly close: () => void };

export class Admission {
  readonly #capacity: number;
  readonly #maxQueue: number;
  #running = 0;
  readonly #queue: Waiter[] = [];

  constructor(capacity: number, maxQueue: number) {
    this.#capacity = capacity;
    this.#maxQueue = maxQueue;
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get capacity(): number {
    return this.#capacity;
  }

  acquire(signal: AbortSignal): Promise<AdmissionResult> {
    if (signal.aborted) return Promise.resolve({ kind: 'aborted' });
    if (this.#running < this.#capacity && this.#queue.length === 0) {
      this.#running += 1;
      return Promise.resolve({ kind: 'admitted', release: this.#releaser() });
    }
    if (this.#queue.length >= this.#maxQueue) return Promise.resolve({ kind: 'overloaded' });
    return new Promise((resolve) => {
      const onAbort = () => {
        const index = this.#queue.indexOf(waiter);
        if (index !== -1) this.#queue.splice(index, 1);
        resolve({ kind: 'aborted' });
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve({ kind: 'admitted', release });
        },
        close: () => {
          signal.removeEventListener('abort', onAbort);
          resolve({ kind: 'closed' });
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Refuse everything that is still waiting (shutdown). */
  closeQueue(): void {
    for (const waiter of this.#queue.splice(0)) waiter.close();
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next === undefined) this.#running -= 1;
      else next.grant(this.#releaser()); // the slot passes straight to the oldest waiter
    };
  }
}
