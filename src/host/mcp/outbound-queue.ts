/**
 * Frames on their way to stdout, in order, with bounded memory (SPEC §4): a client that stops
 * reading must not make the server hold every finished answer in memory. Frames are written
 * at once while the stream keeps up; when it does not, they wait in memory up to a budget
 * (counting what the stream itself buffers), and beyond it in private files that are streamed
 * out chunk by chunk once the client reads again. Nothing is dropped unless stdout is gone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

export const DEFAULT_MEMORY_BUDGET = 8 * 1024 * 1024;
const FILE_CHUNK = 1024 * 1024;

type Entry =
  | { readonly kind: 'memory'; readonly text: string }
  | { readonly kind: 'file'; readonly path: string };

export type OutboundOptions = {
  readonly stdout: Writable;
  readonly onBroken: () => void;
  /** Characters allowed to wait in memory before frames wait on disk. */
  readonly memoryBudget?: number;
  /** Where waiting frames are kept (created on first use, removed by `dispose`). */
  readonly spillParent?: string;
};

export class OutboundQueue {
  readonly #stdout: Writable;
  readonly #onBroken: () => void;
  readonly #budget: number;
  readonly #spillParent: string;
  readonly #queue: Entry[] = [];
  #queuedChars = 0;
  #pumping = false;
  #broken = false;
  #spillDir: string | undefined;
  #spillSeq = 0;
  readonly #idle: (() => void)[] = [];

  constructor(options: OutboundOptions) {
    this.#stdout = options.stdout;
    this.#onBroken = options.onBroken;
    this.#budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
    this.#spillParent = options.spillParent ?? tmpdir();
  }

  push(text: string): void {
    if (this.#broken) return;
    if (!this.#pumping && this.#queue.length === 0 && !this.#stdout.writableNeedDrain) {
      this.#write(text);
      return;
    }
    const waiting = this.#queuedChars + this.#stdout.writableLength + text.length;
    const path = waiting > this.#budget ? this.#spill(text) : undefined;
    if (path === undefined) {
      this.#queue.push({ kind: 'memory', text });
      this.#queuedChars += text.length;
    } else {
      this.#queue.push({ kind: 'file', path });
    }
    this.#pump();
  }

  /** Stdout is gone: drop what waits. */
  broken(): void {
    if (this.#broken) return;
    this.#broken = true;
    this.#queue.length = 0;
    this.#queuedChars = 0;
    this.dispose();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once everything queued has been handed to the OS (or after `timeoutMs`). */
  async flush(timeoutMs: number): Promise<void> {
    const written = (async () => {
      if (this.#pumping || this.#queue.length > 0) {
        await new Promise<void>((resolve) => this.#idle.push(resolve));
      }
      if (this.#broken || this.#stdout.writableLength === 0) return;
      await new Promise<void>((resolve) => this.#stdout.write('', () => resolve()));
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([written, late]);
    clearTimeout(timer);
  }

  /** Remove the spill directory (frames still waiting in it are lost: call at exit only). */
  dispose(): void {
    if (this.#spillDir === undefined) return;
    rmSync(this.#spillDir, { recursive: true, force: true });
    this.#spillDir = undefined;
  }

  #write(text: string | Buffer): void {
    try {
      this.#stdout.write(text, (error) => {
        if (error) this.#fail();
      });
    } catch {
      this.#fail();
    }
  }

  #fail(): void {
    this.broken();
    this.#onBroken();
  }

  /** Write a frame to a private file; undefined (keep it in memory) if that is impossible. */
  #spill(text: string): string | undefined {
    try {
      this.#spillDir ??= mkdtempSync(join(this.#spillParent, `phone-opus-out-${process.pid}-`));
      const path = join(this.#spillDir, `${++this.#spillSeq}.frame`);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    } catch {
      return undefined;
    }
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#drainQueue().finally(() => {
      this.#pumping = false;
      if (this.#queue.length > 0 && !this.#broken) this.#pump();
      else for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  async #drainQueue(): Promise<void> {
    for (let entry = this.#queue.shift(); entry !== undefined; entry = this.#queue.shift()) {
      if (this.#broken) return;
      await this.#drained();
      if (entry.kind === 'memory') {
        this.#queuedChars -= entry.text.length;
        this.#write(entry.text);
      } else {
        await this.#writeFile(entry.path);
      }
    }
  }

  async #writeFile(path: string): Promise<void> {
    try {
      const file = await open(path, 'r');
      try {
        for (;;) {
          const buffer = Buffer.allocUnsafe(FILE_CHUNK);
          const { bytesRead } = await file.read(buffer, 0, FILE_CHUNK, null);
          if (bytesRead === 0 || this.#broken) break;
          this.#write(buffer.subarray(0, bytesRead));
          await this.#drained();
        }
      } finally {
        await file.close();
      }
    } finally {
      await unlink(path).catch(() => {});
    }
  }

  #drained(): Promise<void> {
    if (!this.#stdout.writableNeedDrain || this.#broken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#stdout.off('drain', done);
        this.#stdout.off('close', done);
        resolve();
      };
      this.#stdout.on('drain', done);
      this.#stdout.on('close', done);
    });
  }
}
