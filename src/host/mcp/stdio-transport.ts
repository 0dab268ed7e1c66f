/**
 * Newline-delimited JSON-RPC over stdio, with the protocol hygiene the SDK leaves out
 * (SPEC §4): malformed lines get -32700 and serving continues; non-objects, batches and
 * malformed requests get -32600; frames over the size limit get -32600 naming it; a request
 * id still in flight gets -32600 (the first request is unaffected); `tools/*` before
 * `notifications/initialized` gets -32002; bad params of known methods get -32602.
 * The SDK (v2) does none of this on stdio: it drops what it cannot parse without a word,
 * answers a duplicate id twice and closes the connection on a frame over 10 MiB. What it does
 * do — unknown methods, the 2026-07-28 envelope and versions (-32022), suppressing a
 * cancelled request's answer — is left to it.
 */
import type { Readable, Writable } from 'node:stream';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import { FrameSplitter } from './frame-splitter.ts';
import { OutboundQueue } from './outbound-queue.ts';
import {
  type Era,
  eraDecidedBy,
  MODERN_VERSIONS,
  unsupportedModernVersion,
} from './protocol-era.ts';
import { checkParams } from './request-checks.ts';

export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
type Id = string | number;
type Json = Record<string, unknown>;

export type TransportOptions = {
  readonly maxFrameBytes?: number;
  /** Characters of output allowed to wait in memory for a slow client (then they wait on disk). */
  readonly outputMemoryBudget?: number;
};

type Pending = { readonly method: string; readonly at: number };

const idKey = (id: Id): string => `${typeof id}:${id}`;
const isId = (value: unknown): value is Id =>
  (typeof value === 'string' && value.length > 0) ||
  (typeof value === 'number' && Number.isSafeInteger(value));

export class GuardedStdioTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  /** stdin reached EOF or failed. */
  oninputend?: () => void;
  /** stdout can no longer be written (client gone). */
  onoutputbroken?: () => void;
  /** Input arrived (the rollout check runs after messages). */
  onactivity?: () => void;
  /** A request's response was written (for per-method latency). */
  onanswered?: (method: string, latencyMs: number, error: boolean) => void;
  /** The session is open: a 2025 handshake completed, or a first 2026-era request answered. */
  onopened?: () => void;

  readonly #stdin: Readable;
  readonly #stdout: Writable;
  readonly #maxFrameBytes: number;
  readonly #splitter: FrameSplitter;
  readonly #out: OutboundQueue;
  #initializeSeen = false;
  #initialized = false;
  /**
   * The protocol era, as the SDK pins it from the opening message (SPEC §12): a request whose
   * `_meta` claims a protocol version opens a 2026-07-28 connection (no handshake), anything
   * else but `server/discover` (a probe that does not decide) a 2025 one.
   */
  #era: Era = 'unknown';
  #opened = false;
  #outputBroken = false;
  #closed = false;
  /** Requests in flight, by id: removed when answered or cancelled. */
  readonly #pending = new Map<string, Pending>();

  constructor(stdin: Readable, stdout: Writable, options: TransportOptions = {}) {
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#splitter = new FrameSplitter(this.#maxFrameBytes, {
      frame: (line) => this.#frame(line),
      oversized: () =>
        this.#error(
          null,
          -32600,
          `Invalid Request: frame exceeds the ${this.#maxFrameBytes} byte (${this.#maxFrameBytes / 1048576} MiB) limit`,
        ),
    });
    this.#out = new OutboundQueue({
      stdout,
      onBroken: () => this.#broken(),
      ...(options.outputMemoryBudget === undefined
        ? {}
        : { memoryBudget: options.outputMemoryBudget }),
    });
  }

  /** Requests received and not yet answered (nor cancelled). */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  async start(): Promise<void> {
    this.#stdin.on('data', (chunk: Buffer) => {
      this.onactivity?.();
      this.#splitter.push(chunk);
    });
    this.#stdin.once('end', () => {
      this.#splitter.end();
      this.oninputend?.();
    });
    this.#stdin.once('error', () => this.oninputend?.());
    this.#stdout.on('error', () => this.#broken());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const m = message as Json;
    if ('id' in m && ('result' in m || 'error' in m)) {
      // A response, once; a cancelled request's answer (the SDK drops those) is never written.
      const id = m['id'];
      const pending = isId(id) ? this.#pending.get(idKey(id)) : undefined;
      if (pending === undefined) return;
      this.#pending.delete(idKey(id as Id));
      this.onanswered?.(pending.method, performance.now() - pending.at, 'error' in m);
      this.#write(m, id as Id);
      if (this.#era === 'modern') this.#open();
      return;
    }
    this.#write(m, undefined);
  }

  /** Resolves once every frame written so far has reached the OS (or after `timeoutMs`). */
  flush(timeoutMs: number): Promise<void> {
    return this.#out.flush(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stdin.pause();
    this.#out.dispose();
    this.onclose?.();
  }

  #write(message: Json, answering: Id | undefined): void {
    if (this.#outputBroken) return;
    let text: string;
    try {
      text = `${JSON.stringify(message)}\n`;
    } catch (error) {
      // Too large to serialise (V8's string limit): the request still gets its one answer.
      if (answering === undefined) return;
      text = `${JSON.stringify({
        jsonrpc: '2.0',
        id: answering,
        error: {
          code: -32603,
          message: `Internal error: the result could not be serialised (${(error as Error).message})`,
        },
      })}\n`;
    }
    this.#out.push(text);
  }

  #broken(): void {
    if (this.#outputBroken) return;
    this.#outputBroken = true;
    this.#out.broken();
    this.onoutputbroken?.();
  }

  #frame(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      this.#error(null, -32700, `Parse error: ${(error as Error).message}`);
      return;
    }
    if (Array.isArray(parsed)) {
      this.#error(null, -32600, 'Invalid Request: batches are not supported');
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) {
      this.#error(null, -32600, 'Invalid Request: a message must be a JSON object');
      return;
    }
    const m = parsed as Json;
    const id = 'id' in m ? m['id'] : undefined;
    const replyId = isId(id) ? id : null;
    if (m['jsonrpc'] !== '2.0') {
      this.#error(replyId, -32600, 'Invalid Request: "jsonrpc" must be "2.0"');
      return;
    }
    if (!('method' in m)) {
      if (isId(id) && ('result' in m || 'error' in m)) {
        this.onmessage?.(m as JSONRPCMessage); // a response to a server request
      } else {
        this.#error(replyId, -32600, 'Invalid Request: missing "method"');
      }
      return;
    }
    const method = m['method'];
    if (typeof method !== 'string' || method === '') {
      this.#error(replyId, -32600, 'Invalid Request: "method" must be a non-empty string');
      return;
    }
    if (
      'params' in m &&
      (typeof m['params'] !== 'object' || m['params'] === null || Array.isArray(m['params']))
    ) {
      if (id === undefined) return; // a notification never gets a reply
      this.#error(replyId, -32602, `Invalid params: ${method} params must be an object`);
      return;
    }
    if (id === undefined) {
      this.#notification(method, m);
      return;
    }
    if (!isId(id)) {
      this.#error(null, -32600, 'Invalid Request: "id" must be a string or an integer');
      return;
    }
    this.#request(id, method, m);
  }

  #notification(method: string, m: Json): void {
    this.#noteEra(method, m);
    if (method === 'notifications/initialized' && this.#initializeSeen) {
      this.#initialized = true;
      this.#open();
    }
    if (method === 'notifications/cancelled') {
      const requestId = ((m['params'] ?? {}) as Json)['requestId'];
      // Nothing in flight under that id (already answered, or never seen): nothing to cancel.
      // Otherwise the id is free at once: a client may reuse it in its very next message (the
      // SDK aborts the cancelled handler and never answers it).
      if (!isId(requestId) || !this.#pending.delete(idKey(requestId))) return;
    }
    this.onmessage?.(m as JSONRPCMessage);
  }

  #request(id: Id, method: string, m: Json): void {
    const key = idKey(id);
    if (this.#pending.has(key)) {
      this.#error(
        id,
        -32600,
        `Invalid Request: request id ${JSON.stringify(id)} is already in flight`,
      );
      return;
    }
    this.#noteEra(method, m);
    const requested = this.#era === 'modern' ? unsupportedModernVersion(m) : undefined;
    if (requested !== undefined) {
      this.#error(id, -32022, `Unsupported protocol version: ${requested}`, {
        supported: MODERN_VERSIONS,
        requested,
      });
      return;
    }
    if (method.startsWith('tools/') && this.#era === 'legacy' && !this.#initialized) {
      this.#error(
        id,
        -32002,
        'Server not initialized: send initialize, then notifications/initialized, before tools/*',
      );
      return;
    }
    const problem = checkParams(method, (m['params'] ?? {}) as Json, this.#era === 'modern');
    if (problem !== undefined) {
      this.#error(id, -32602, `Invalid params: ${problem}`);
      return;
    }
    if (method === 'initialize') this.#initializeSeen = true;
    this.#pending.set(key, { method, at: performance.now() });
    this.onmessage?.(m as JSONRPCMessage);
  }

  #open(): void {
    if (this.#opened) return;
    this.#opened = true;
    this.onopened?.();
  }

  #noteEra(method: string, m: Json): void {
    if (this.#era === 'unknown') this.#era = eraDecidedBy(method, m);
  }

  #error(id: Id | null, code: number, message: string, data?: Json): void {
    const error = data === undefined ? { code, message } : { code, message, data };
    this.#write({ jsonrpc: '2.0', id, error }, undefined);
  }
}
