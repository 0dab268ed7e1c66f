/**
 * Waiting for a job to end without busy polling: the first of its end (a job of this server),
 * a change of its file (another server's job), a periodic re-check (its owner may die without
 * a word, or inotify may be missing), the caller's deadline or abort.
 */
import type { ProgressSink } from '../consult/progress.ts';
import type { LiveJob } from './live-job.ts';

/** While nothing signals a change, a waiter re-reads the job this often. */
const RECHECK_MS = 1000;

export type WaitSources = {
  readonly waitMs: number;
  readonly signal?: AbortSignal | undefined;
  /** The job, when this server runs it; `progress` then follows its consult meanwhile. */
  readonly live?: LiveJob | undefined;
  readonly progress?: ProgressSink | undefined;
  /** Another server's job: calls back on any change in the jobs directory (returns a stop). */
  readonly watch: (onChange: (jobId: string) => void) => () => void;
  readonly jobId: string;
  /** Has the job ended (or gone)? */
  readonly ended: () => boolean;
};

export function untilEnded(w: WaitSources): Promise<void> {
  return new Promise<void>((resolve) => {
    const cleanups: (() => void)[] = [];
    const done = () => {
      for (const cleanup of cleanups) cleanup();
      resolve();
    };
    const timer = setTimeout(done, w.waitMs);
    cleanups.push(() => clearTimeout(timer));
    if (w.signal !== undefined) {
      const signal = w.signal;
      if (signal.aborted) return done();
      signal.addEventListener('abort', done, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', done));
    }
    if (w.live !== undefined) {
      cleanups.push(
        w.progress === undefined ? w.live.onEnd(done) : w.live.follow(w.progress, done),
      );
      return;
    }
    const check = () => {
      if (w.ended()) done();
    };
    cleanups.push(
      w.watch((changed) => {
        if (changed === w.jobId) check();
      }),
    );
    const recheck = setInterval(check, RECHECK_MS);
    cleanups.push(() => clearInterval(recheck));
  });
}
