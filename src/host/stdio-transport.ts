import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * Newline-delimited JSON-RPC over stdio, with the protocol hygiene the SDK leaves out
 * (SPEC §4): malformed lines get -32700 and serving continues; non-objects, batches and
 * malformed requests get -32600; frames over the size limit get -32600 naming it; a request
 * id still in flight gets -32600 (the first request is unaffected); `tools/*` before
 * `notifications/initialized` gets -32002; bad params of known methods get -32602.
 */

export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

type Id = string | number;
type Json = Record<string, unknown>;

export type TransportHooks = {
  /** stdin reached EOF or failed. */
  readonly onInputEnd: () => void;
  /** stdout can no longer be written (client gone). */
  readonly onOutputBroken: () => void;
  /** Any inbound frame arrived (the rollout check runs after each message). */
  readonly onMessage?: () => void;
  /** A request's response was written (for per-method latency of non-tool methods). */
  readonly onResponse?: (method: string, latencyMs: number, error: boolean) => void;
};

const idKey = (id: Id): string => `${typeof id}:${id}`;
const isId = (value: unknown): value is Id =>
  (typeof value === 'string' && value.length > 0) ||
  (typeof value === 'number' && Number.isSafeInteger(value));

export class GuardedStdioTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  readonly #stdin: Readable;
  readonly #stdout: Writable;
  readonly #hooks: TransportHooks;
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #pendingBytes = 0;
  #discarding = false;
  #initializeSeen = false;
  #initialized = false;
  #outputBroken = false;
  #closed = false;
  /** Requests forwarded and not yet answered: id → method and arrival time. */
  readonly #inFlight = new Map<string, { method: string; at: number }>();

  constructor(
    stdin: Readable,
    stdout: Writable,
    hooks: TransportHooks,
    maxFrameBytes = MAX_FRAME_BYTES,
  ) {
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#hooks = hooks;
    this.#maxFrameBytes = maxFrameBytes;
  }

  get initialized(): boolean {
    return this.#initialized;
  }

  async start(): Promise<void> {
    this.#stdin.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#stdin.once('end', () => this.#hooks.onInputEnd());
    this.#stdin.once('error', () => this.#hooks.onInputEnd());
    this.#stdout.on('error', () => this.#broken());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const m = message as Json;
    if ('id' in m && ('result' in m || 'error' in m) && isId(m['id'])) {
      const key = idKey(m['id']);
      const entry = this.#inFlight.get(key);
      if (entry !== undefined) {
        this.#inFlight.delete(key);
        this.#hooks.onResponse?.(entry.method, performance.now() - entry.at, 'error' in m);
      }
    }
    await this.#write(message);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stdin.pause();
    this.onclose?.();
  }

  #write(message: unknown): Promise<void> {
    if (this.#outputBroken) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.#stdout.write(`${JSON.stringify(message)}\n`, (error) => {
          if (error) this.#broken();
          resolve();
        });
      } catch {
        this.#broken();
        resolve();
      }
    });
  }

  #broken(): void {
    if (this.#outputBroken) return;
    this.#outputBroken = true;
    this.#hooks.onOutputBroken();
  }

  #onData(chunk: Buffer): void {
    this.#hooks.onMessage?.();
    let start = 0;
    let newline = chunk.indexOf(0x0a, start);
    while (newline !== -1) {
      this.#take(chunk.subarray(start, newline));
      this.#endLine();
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) this.#take(chunk.subarray(start));
  }

  #take(part: Buffer): void {
    if (this.#discarding || part.length === 0) return;
    this.#pendingBytes += part.length;
    if (this.#pendingBytes > this.#maxFrameBytes) {
      // Drop the rest of this frame without buffering it; answer once its newline arrives.
      this.#discarding = true;
      this.#chunks = [];
      return;
    }
    this.#chunks.push(Buffer.from(part));
  }

  #endLine(): void {
    if (this.#discarding) {
      this.#discarding = false;
      this.#pendingBytes = 0;
      this.#error(
        null,
        -32600,
        `Invalid Request: frame exceeds the ${this.#maxFrameBytes} byte (${this.#maxFrameBytes / 1048576} MiB) limit`,
      );
      return;
    }
    const line = Buffer.concat(this.#chunks).toString('utf8').trim();
    this.#chunks = [];
    this.#pendingBytes = 0;
    if (line !== '') this.#frame(line);
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
    if (method === 'notifications/initialized' && this.#initializeSeen) this.#initialized = true;
    if (method === 'notifications/cancelled') {
      const requestId = (m['params'] as Json | undefined)?.['requestId'];
      if (isId(requestId)) this.#inFlight.delete(idKey(requestId));
    }
    this.onmessage?.(m as JSONRPCMessage);
  }

  #request(id: Id, method: string, m: Json): void {
    const key = idKey(id);
    if (this.#inFlight.has(key)) {
      this.#error(
        id,
        -32600,
        `Invalid Request: request id ${JSON.stringify(id)} is already in flight`,
      );
      return;
    }
    if (method.startsWith('tools/') && !this.#initialized) {
      this.#error(
        id,
        -32002,
        'Server not initialized: send initialize, then notifications/initialized, before tools/*',
      );
      return;
    }
    const problem = checkParams(method, (m['params'] ?? {}) as Json);
    if (problem !== undefined) {
      this.#error(id, -32602, `Invalid params: ${problem}`);
      return;
    }
    if (method === 'initialize') this.#initializeSeen = true;
    this.#inFlight.set(key, { method, at: performance.now() });
    this.onmessage?.(m as JSONRPCMessage);
  }

  #error(id: Id | null, code: number, message: string): void {
    void this.#write({ jsonrpc: '2.0', id, error: { code, message } });
  }
}

/** The SDK answers schema failures of known methods with -32603; catch them first as -32602. */
function checkParams(method: string, params: Json): string | undefined {
  switch (method) {
    case 'initialize': {
      if (typeof params['protocolVersion'] !== 'string')
        return 'initialize params.protocolVersion must be a string';
      if (typeof params['capabilities'] !== 'object' || params['capabilities'] === null) {
        return 'initialize params.capabilities must be an object';
      }
      const info = params['clientInfo'] as Json | undefined;
      if (
        typeof info !== 'object' ||
        info === null ||
        typeof info['name'] !== 'string' ||
        typeof info['version'] !== 'string'
      ) {
        return 'initialize params.clientInfo must be an object with string name and version';
      }
      return undefined;
    }
    case 'tools/call':
      if (typeof params['name'] !== 'string') return 'tools/call params.name must be a string';
      if (
        'arguments' in params &&
        (typeof params['arguments'] !== 'object' ||
          params['arguments'] === null ||
          Array.isArray(params['arguments']))
      ) {
        return 'tools/call params.arguments must be an object';
      }
      return undefined;
    case 'tools/list':
      if ('cursor' in params && typeof params['cursor'] !== 'string')
        return 'tools/list params.cursor must be a string';
      return undefined;
    default:
      return undefined;
  }
}
