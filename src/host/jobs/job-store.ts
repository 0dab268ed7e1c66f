/**
 * The jobs directory (SPEC §11): one file per job, `<state>/jobs/<job_id>.json` (0600 in a 0700
 * directory, replaced atomically), shared by every server of the user. Each job has one
 * writer, the server that runs it; the others only read it, ask it to stop (a `<job_id>.cancel`
 * marker), or — once its owner is gone — mark it interrupted. A request key is claimed with an
 * exclusive create (`keys/<sha256>`), so two servers never start the same keyed consult twice.
 * One inotify watch on the directory wakes whoever waits for a job to change.
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

export type JobChange = { readonly jobId: string; readonly kind: 'record' | 'cancel' };

const JOB_FILE = /^([0-9a-f-]{36})\.(json|cancel)$/;

export class JobStore {
  readonly dir: string;
  readonly #keys: string;
  readonly #log: Logger;
  readonly #listeners = new Set<(change: JobChange) => void>();
  #watcher: FSWatcher | undefined;
  #warned = false;

  constructor(stateDir: string, log: Logger) {
    this.dir = join(stateDir, 'jobs');
    this.#keys = join(this.dir, 'keys');
    this.#log = log;
  }

  /** Save the record; false when it could not be (the job still runs, only not durably). */
  write(record: JobRecord): boolean {
    try {
      writePrivateJsonAtomic(this.#path(record.job_id), record);
      return true;
    } catch (error) {
      // A job that cannot be saved still runs and answers its call; only its durability is lost.
      if (!this.#warned) {
        this.#warned = true;
        this.#log(`cannot save jobs in ${this.dir}: ${(error as Error).message}`);
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
      if (match?.[2] !== 'json') continue;
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

  /** Be told when a job file or a cancel marker changes (one watch for all listeners). */
  watch(listener: (change: JobChange) => void): () => void {
    this.#listeners.add(listener);
    this.#startWatching();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#watcher?.close();
        this.#watcher = undefined;
      }
    };
  }

  #startWatching(): void {
    if (this.#watcher !== undefined) return;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.#watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        const match = name === null ? null : JOB_FILE.exec(name.toString());
        if (match === null) return;
        const change: JobChange = {
          jobId: match[1] as string,
          kind: match[2] === 'cancel' ? 'cancel' : 'record',
        };
        for (const listener of [...this.#listeners]) listener(change);
      });
      this.#watcher.on('error', () => {
        this.#watcher = undefined; // waiters fall back to their periodic re-read
      });
    } catch {
      // No watch here (no inotify, or the dir is unusable): waiters re-read periodically.
    }
  }

  #names(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  #path(jobId: string): string {
    return join(this.dir, `${jobId}.json`);
  }

  #cancelPath(jobId: string): string {
    return join(this.dir, `${jobId}.cancel`);
  }

  #keyPath(key: string): string {
    return join(this.#keys, createHash('sha256').update(key).digest('hex'));
  }
}
