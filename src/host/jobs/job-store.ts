/**
 * The jobs directory (SPEC §11): one file per job, `<state>/jobs/<job_id>.json` (0600 in a 0700
 * directory, replaced atomically), shared by every server of the user. Each job has one
 * writer, the server that runs it; the others only read it, ask it to stop (a `cancel/<job_id>`
 * marker), or — once its owner is gone — mark it interrupted. A request key is claimed with an
 * exclusive create (`keys/<sha256>`), so two servers never start the same keyed consult twice.
 * One inotify watch on the directory wakes whoever waits for a job to change, another on
 * `cancel/` wakes the owners of running jobs.
 */
import { createHash } from 'node:crypto';
import {
  type FSWatcher,
  mkdirSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ownerAlive } from '../../shared/proc-scan.ts';
import type { Logger } from '../log.ts';
import { writePrivateFileAtomic, writePrivateJsonAtomic } from '../state/state-files.ts';
import { isActive, type JobRecord, parseJobRecord } from './job-record.ts';

/** Past this many characters of answer and prompt, a record is written in pieces. */
const LARGE_CHARS = 256 * 1024;
const isLarge = (record: JobRecord): boolean =>
  (record.outcome?.kind === 'ok' ? record.outcome.value.response.length : 0) +
    (record.prompt?.length ?? 0) >
  LARGE_CHARS;

const JOB_FILE = /^([0-9a-f-]{36})\.json$/;
const CANCEL_FILE = /^([0-9a-f-]{36})$/;

export class JobStore {
  readonly #dir: string;
  readonly #keys: string;
  readonly #cancelDir: string;
  readonly #log: Logger;
  readonly #records: DirWatch;
  readonly #cancels: DirWatch;
  #warned = false;

  constructor(stateDir: string, log: Logger) {
    this.#dir = join(stateDir, 'jobs');
    this.#keys = join(this.#dir, 'keys');
    this.#cancelDir = join(this.#dir, 'cancel');
    this.#records = new DirWatch(this.#dir, JOB_FILE);
    this.#cancels = new DirWatch(this.#cancelDir, CANCEL_FILE);
    this.#log = log;
  }

  /** Save the record; false when it could not be (the job still runs, only not durably). */
  write(record: JobRecord): boolean {
    try {
      writePrivateJsonAtomic(this.#path(record.job_id), record, isLarge(record));
      return true;
    } catch (error) {
      // A job that cannot be saved still runs and answers its call; only its durability is lost.
      if (!this.#warned) {
        this.#warned = true;
        this.#log(`cannot save jobs in ${this.#dir}: ${(error as Error).message}`);
      }
      return false;
    }
  }

  /** The job as its file says, or undefined if there is none (unknown, pruned, unreadable). */
  read(jobId: string): JobRecord | undefined {
    try {
      return parseJobRecord(readFileSync(this.#path(jobId), 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Every job on disk, newest first. */
  list(): JobRecord[] {
    const records: JobRecord[] = [];
    for (const name of this.#names()) {
      const match = JOB_FILE.exec(name);
      if (match === null) continue;
      const record = this.read(match[1] as string);
      if (record !== undefined) records.push(record);
    }
    return records.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  /** Is the job's owner gone while the job says it runs? */
  orphaned(record: JobRecord): boolean {
    return isActive(record.status) && !ownerAlive(record.owner);
  }

  remove(record: JobRecord): void {
    for (const path of [this.#path(record.job_id), this.#cancelPath(record.job_id)]) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
    if (record.request_key !== null) this.releaseKey(record.request_key, record.job_id);
  }

  /**
   * Claim a request key for a new job. `taken` names the job that holds it; a key whose job
   * is gone (pruned) is taken over.
   */
  claimKey(key: string, jobId: string): { kind: 'claimed' } | { kind: 'taken'; jobId: string } {
    const path = this.#keyPath(key);
    mkdirSync(this.#keys, { recursive: true, mode: 0o700 });
    for (let tries = 0; tries < 3; tries++) {
      try {
        writeFileSync(path, jobId, { flag: 'wx', mode: 0o600 });
        return { kind: 'claimed' };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let holder = '';
      try {
        holder = readFileSync(path, 'utf8').trim();
      } catch {
        continue; // released meanwhile: try again
      }
      if (holder !== '' && this.read(holder) !== undefined) return { kind: 'taken', jobId: holder };
      // Its job is gone (or still being written by a server that just claimed it).
      if (holder !== '') this.releaseKey(key, holder);
    }
    return { kind: 'taken', jobId: readFileSync(path, 'utf8').trim() };
  }

  releaseKey(key: string, jobId: string): void {
    const path = this.#keyPath(key);
    try {
      if (readFileSync(path, 'utf8').trim() === jobId) unlinkSync(path);
    } catch {
      // not held
    }
  }

  /** Ask the job's owner (possibly another server) to stop it. */
  requestCancel(jobId: string): void {
    writePrivateFileAtomic(this.#cancelPath(jobId), '');
  }

  cancelRequested(jobId: string): boolean {
    try {
      readFileSync(this.#cancelPath(jobId));
      return true;
    } catch {
      return false;
    }
  }

  /** Be told when a job's file changes (one watch on the directory for all listeners). */
  watch(listener: (jobId: string) => void): () => void {
    return this.#records.add(listener);
  }

  /** Be told when a cancel marker appears (its own directory: job writes do not wake it). */
  watchCancels(listener: (jobId: string) => void): () => void {
    return this.#cancels.add(listener);
  }

  #names(): string[] {
    try {
      return readdirSync(this.#dir);
    } catch {
      return [];
    }
  }

  #path(jobId: string): string {
    return join(this.#dir, `${jobId}.json`);
  }

  #cancelPath(jobId: string): string {
    return join(this.#cancelDir, jobId);
  }

  #keyPath(key: string): string {
    return join(this.#keys, createHash('sha256').update(key).digest('hex'));
  }
}

/** One `fs.watch` on a directory, shared by its listeners, closed when the last one leaves. */
class DirWatch {
  readonly #dir: string;
  readonly #names: RegExp;
  readonly #listeners = new Set<(jobId: string) => void>();
  #watcher: FSWatcher | undefined;

  constructor(dir: string, names: RegExp) {
    this.#dir = dir;
    this.#names = names;
  }

  add(listener: (jobId: string) => void): () => void {
    this.#listeners.add(listener);
    this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#watcher?.close();
        this.#watcher = undefined;
      }
    };
  }

  #start(): void {
    if (this.#watcher !== undefined) return;
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      this.#watcher = watch(this.#dir, { persistent: false }, (_event, name) => {
        const jobId = name === null ? undefined : this.#names.exec(name.toString())?.[1];
        if (jobId === undefined) return;
        for (const listener of [...this.#listeners]) listener(jobId);
      });
      this.#watcher.on('error', () => {
        this.#watcher = undefined; // listeners fall back to their periodic re-read
      });
    } catch {
      // No watch here (no inotify, or the dir is unusable): listeners re-read periodically.
    }
  }
}
