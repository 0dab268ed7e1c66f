/**
 * An append-only JSONL file with size-based rotation, written synchronously from the host
 * thread only (reliability-notes §5): one `writeSync` per whole line on an fd opened once in
 * append mode, so lines never interleave and survive `process.exit()`. Several servers may
 * share the file: the size is read from the file itself, and a rotation done by another
 * process is noticed (the path names a new inode) and followed. A failure never throws: it
 * is reported once through `log` and shown by `status` until a later write succeeds.
 */
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.ts';

export type JsonlWriterOptions = {
  readonly path: string;
  /** Rotate before a line would take the file past this size. @default 10 MiB */
  readonly maxBytes?: number;
  /** Rotated files kept, at least 1 (`path.1` newest … `path.N` oldest). @default 3 */
  readonly keep?: number;
  readonly log: Logger;
};

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_KEEP = 3;

export class JsonlWriter {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #log: Logger;
  #fd: number | undefined;
  #ino = 0;
  #error: string | undefined;
  #reported = false;
  #closed = false;

  constructor(options: JsonlWriterOptions) {
    this.path = options.path;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#keep = options.keep ?? DEFAULT_KEEP;
    this.#log = options.log;
  }

  /** The file's path while writes work, else `error: …` with the reason. */
  get status(): string {
    return this.#error === undefined ? this.path : `error: ${this.#error}`;
  }

  /** Open (creating the directory 0700 and the file 0600) so that problems show up early. */
  open(): void {
    this.#attempt(() => this.#ensureOpen());
  }

  /** Append one record as one line; false if it could not be written (already reported). */
  write(record: unknown): boolean {
    if (this.#closed) return false;
    const line = `${JSON.stringify(record)}\n`;
    return this.#attempt(() => {
      const fd = this.#ensureOpen();
      const bytes = Buffer.byteLength(line);
      const size = fstatSync(fd).size;
      if (size > 0 && size + bytes > this.#maxBytes) this.#rotate();
      const target = this.#ensureOpen();
      const buffer = Buffer.from(line);
      let offset = 0;
      // A regular file takes the whole buffer at once in practice; loop for short writes.
      while (offset < buffer.length) offset += writeSync(target, buffer, offset);
    });
  }

  /** Flush to disk and close (shutdown). */
  close(): void {
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd === undefined) return;
    try {
      fsyncSync(fd);
    } catch {
      // Some filesystems refuse fsync; the data is already in the kernel.
    }
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }

  #attempt(action: () => void): boolean {
    try {
      action();
      this.#error = undefined;
      return true;
    } catch (error) {
      this.#dropFd();
      this.#error = describe(error);
      if (!this.#reported) {
        this.#reported = true;
        this.#log(
          `cannot write the telemetry log ${this.path}: ${this.#error}; tool calls go on without it (set PHONE_OPUS_STATE_DIR to a writable directory)`,
        );
      }
      return false;
    }
  }

  #ensureOpen(): number {
    if (this.#fd !== undefined) {
      // Another server sharing this file may have rotated it away from under us.
      if (inodeOf(this.path) === this.#ino) return this.#fd;
      this.#dropFd();
    }
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const fd = openSync(this.path, 'a', 0o600);
    this.#fd = fd;
    this.#ino = fstatSync(fd).ino;
    return fd;
  }

  #rotate(): void {
    this.#dropFd();
    for (let n = this.#keep - 1; n >= 1; n -= 1)
      renameIfExists(`${this.path}.${n}`, `${this.path}.${n + 1}`);
    if (this.#keep >= 1) renameIfExists(this.path, `${this.path}.1`);
  }

  #dropFd(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // nothing to do
    }
    this.#fd = undefined;
  }
}

function inodeOf(path: string): number {
  try {
    return statSync(path).ino;
  } catch {
    return -1;
  }
}

/** Another server may have rotated first: a missing source is fine. */
function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
