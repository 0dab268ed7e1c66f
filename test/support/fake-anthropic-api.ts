// A fake Anthropic Messages API for driving the real Claude Code CLI offline.
// Plain node:http, no dependencies; binds 127.0.0.1 on a free port.
// See /work/shared/docs/claude-cli-notes.md §5–§8 for the protocol it mimics.

import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeErrorStatus = 400 | 401 | 403 | 404 | 413 | 429 | 500 | 529;

export type FakeToolCall = { name: string; input: Record<string, unknown> };

export type FakeScript = {
  /** Final answer text. `{{TOOL_RESULT}}` is replaced by the text of the last tool_result. */
  reply?: string;
  /** Delay before each /v1/messages answer (a slow model). */
  delayMs?: number;
  /** Forced error status for message requests. */
  errorStatus?: FakeErrorStatus;
  /** Only the first N message requests (counted since the last setScript) error; default: all. */
  errorTimes?: number;
  /** Custom error message (default: `fake api: forced <status> (<type>)`). */
  errorMessage?: string;
  /**
   * Stateless tool loop: k = number of tool_result blocks in the request; when toolCalls[k]
   * exists and the request offers tools, answer with that tool_use.
   */
  toolCalls?: FakeToolCall[];
  /** Forced model id in responses (default: the requested model). */
  model?: string;
  /** Replace the reply by `bigReply(replyBytes)`: deterministic ASCII of exactly this many bytes. */
  replyBytes?: number;
  /** Forced usage numbers (e.g. huge output_tokens to exceed --max-budget-usd). */
  inputTokens?: number;
  outputTokens?: number;
  /**
   * Break a streaming answer after its first content delta: `'end'` ends the HTTP response
   * cleanly without message_stop, `'reset'` destroys the socket.
   */
  cutStream?: 'end' | 'reset';
  /** Status for `HEAD /` and `GET /` (default 200). */
  rootStatus?: number;
};

/** A static script, or one chosen per request (several CLIs can share one fake). */
export type FakeScriptSource = FakeScript | ((body: MessagesRequestBody) => FakeScript);

export type RecordedRequest = {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw string when it is not JSON; undefined when empty. */
  body: unknown;
  /** Date.now() when the request body had been read. */
  receivedAt: number;
};

export type MessagesRequestBody = {
  model?: string;
  stream?: boolean;
  messages?: unknown[];
  tools?: unknown[];
  system?: unknown;
  [key: string]: unknown;
};

export interface FakeAnthropicApi {
  /** Base URL for ANTHROPIC_BASE_URL, e.g. `http://127.0.0.1:41234` (no `/v1`). */
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Only the POST /v1/messages requests (not count_tokens). */
  messageRequests(): RecordedRequest[];
  /** Replace the script; also resets the errorTimes counter. */
  setScript(script: FakeScriptSource): void;
  /** Destroys open sockets, so tests end promptly. */
  close(): Promise<void>;
}

type Usage = {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
};

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const MODELS = [
  { id: 'claude-opus-4-8', display_name: 'Claude Opus 4.8' },
  { id: 'claude-sonnet-5', display_name: 'Claude Sonnet 5' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5' },
];

export const DEFAULT_REPLY = 'pong from fake api';
export const TOOL_RESULT_PLACEHOLDER = '{{TOOL_RESULT}}';

const STREAM_CHUNK = 16 * 1024;

/**
 * Deterministic ASCII text of exactly `bytes` bytes: numbered 64-byte lines
 * (`L000001 ` + filler + `\n`) so a truncation or reordering is easy to spot.
 */
export function bigReply(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let line = 1; size < bytes; line += 1) {
    const head = `L${String(line).padStart(6, '0')} `;
    const letter = String.fromCharCode(97 + (line % 26));
    const full = `${head}${letter.repeat(64 - head.length - 1)}\n`;
    const piece = full.slice(0, bytes - size);
    parts.push(piece);
    size += piece.length;
  }
  return parts.join('');
}

/** Loosely typed JSON object (named optional keys keep property access lint-clean). */
type Loose = {
  type?: unknown;
  role?: unknown;
  content?: unknown;
  text?: unknown;
  messages?: unknown;
  system?: unknown;
};

function isRecord(value: unknown): value is Loose {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function userBlocks(body: MessagesRequestBody): Loose[] {
  const blocks: Loose[] = [];
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    if (!isRecord(message) || message.role !== 'user') continue;
    const content = message.content;
    if (Array.isArray(content)) {
      for (const block of content) if (isRecord(block)) blocks.push(block);
    } else if (typeof content === 'string') {
      blocks.push({ type: 'text', text: content });
    }
  }
  return blocks;
}

/** Number of tool_result blocks in the request's user messages. */
export function countToolResults(body: MessagesRequestBody): number {
  return userBlocks(body).filter((b) => b.type === 'tool_result').length;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p): p is Loose => isRecord(p) && p.type === 'text')
    .map((p) => String(p.text ?? ''))
    .join('');
}

/** Text of the last tool_result block (string content or concatenated text parts), or ''. */
export function lastToolResultText(body: MessagesRequestBody): string {
  const results = userBlocks(body).filter((b) => b.type === 'tool_result');
  const last = results[results.length - 1];
  return last === undefined ? '' : contentText(last.content);
}

/** All user text in the request (for marker-based per-request scripts). */
export function userText(body: MessagesRequestBody): string {
  return userBlocks(body)
    .filter((b) => b.type === 'text')
    .map((b) => String(b.text ?? ''))
    .join('\n');
}

function id(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? '').length / 4));
}

function sendJson(
  res: ServerResponse,
  status: number,
  payload: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': id('req_'),
    ...extra,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message?: string): void {
  const type = ERROR_TYPES[status] ?? 'api_error';
  const extra: Record<string, string> =
    status === 429 || status === 529 ? { 'retry-after': '0' } : {};
  sendJson(
    res,
    status,
    {
      type: 'error',
      error: { type, message: message ?? `fake api: forced ${status} (${type})` },
    },
    extra,
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function chunks(text: string): string[] {
  if (text.length === 0) return [''];
  if (text.length <= 12) return [text];
  if (text.length < STREAM_CHUNK) {
    // A few chunks, to exercise incremental handling.
    const third = Math.ceil(text.length / 3);
    return [text.slice(0, third), text.slice(third, 2 * third), text.slice(2 * third)];
  }
  const out: string[] = [];
  for (let i = 0; i < text.length; i += STREAM_CHUNK) out.push(text.slice(i, i + STREAM_CHUNK));
  return out;
}

function sse(res: ServerResponse, type: string, data: Record<string, unknown>): boolean {
  return res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
}

async function drainIfNeeded(res: ServerResponse, ok: boolean): Promise<void> {
  if (ok || res.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function streamMessage(
  res: ServerResponse,
  message: {
    id: string;
    model: string;
    content: Block[];
    stop_reason: string;
    usage: Usage;
  },
  cut: 'end' | 'reset' | undefined,
): Promise<void> {
  const breakOff = (): void => {
    if (cut === 'reset') res.socket?.destroy();
    else res.end();
  };
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': id('req_'),
  });
  sse(res, 'message_start', {
    message: {
      id: message.id,
      type: 'message',
      role: 'assistant',
      model: message.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...message.usage, output_tokens: 1 },
    },
  });
  sse(res, 'ping', {});
  for (const [index, block] of message.content.entries()) {
    if (block.type === 'text') {
      sse(res, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const text of chunks(block.text)) {
        const ok = sse(res, 'content_block_delta', { index, delta: { type: 'text_delta', text } });
        if (cut !== undefined) {
          breakOff();
          return;
        }
        await drainIfNeeded(res, ok);
        if (res.destroyed) return;
      }
    } else {
      sse(res, 'content_block_start', {
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      sse(res, 'content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
      if (cut !== undefined) {
        breakOff();
        return;
      }
    }
    sse(res, 'content_block_stop', { index });
  }
  sse(res, 'message_delta', {
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  sse(res, 'message_stop', {});
  res.end();
}

export async function startFakeAnthropicApi(
  initial: FakeScriptSource = {},
): Promise<FakeAnthropicApi> {
  let source: FakeScriptSource = initial;
  let erroredMessages = 0;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const scriptFor = (body: MessagesRequestBody): FakeScript =>
    typeof source === 'function' ? source(body) : source;

  async function handleMessages(body: MessagesRequestBody, res: ServerResponse): Promise<void> {
    const script = scriptFor(body);
    if (script.delayMs !== undefined && script.delayMs > 0) await sleep(script.delayMs);
    if (res.destroyed) return;
    if (script.errorStatus !== undefined) {
      if (script.errorTimes === undefined || erroredMessages < script.errorTimes) {
        erroredMessages += 1;
        sendError(res, script.errorStatus, script.errorMessage);
        return;
      }
    }
    const k = countToolResults(body);
    const call = script.toolCalls?.[k];
    const offersTools = Array.isArray(body.tools) && body.tools.length > 0;
    let content: Block[];
    let stopReason: string;
    if (call !== undefined && offersTools) {
      content = [
        { type: 'text', text: `Calling ${call.name}.` },
        { type: 'tool_use', id: id('toolu_'), name: call.name, input: call.input },
      ];
      stopReason = 'tool_use';
    } else {
      const text =
        script.replyBytes !== undefined
          ? bigReply(script.replyBytes)
          : (script.reply ?? DEFAULT_REPLY).replaceAll(
              TOOL_RESULT_PLACEHOLDER,
              lastToolResultText(body),
            );
      content = [{ type: 'text', text }];
      stopReason = 'end_turn';
    }
    const model = script.model ?? (typeof body.model === 'string' ? body.model : 'claude-opus-4-8');
    const usage: Usage = {
      input_tokens: script.inputTokens ?? estimateTokens(body.messages),
      output_tokens: script.outputTokens ?? estimateTokens(content),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    const message = { id: id('msg_'), model, content, stop_reason: stopReason, usage };
    if (body.stream === true) {
      await streamMessage(res, message, script.cutStream);
      return;
    }
    sendJson(res, 200, {
      id: message.id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const raw = await readBody(req);
    const body = parseBody(raw);
    requests.push({ method, url, headers: req.headers, body, receivedAt: Date.now() });
    const path = url.split('?')[0] ?? '/';

    if (path === '/' && (method === 'HEAD' || method === 'GET')) {
      const script = typeof source === 'function' ? {} : source;
      res.writeHead(script.rootStatus ?? 200, { 'content-length': 0 });
      res.end();
      return;
    }
    if (method === 'POST' && path === '/v1/messages') {
      if (!isRecord(body)) {
        sendError(res, 400, 'fake api: body is not a JSON object');
        return;
      }
      await handleMessages(body as MessagesRequestBody, res);
      return;
    }
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      const input = isRecord(body) ? body : {};
      sendJson(res, 200, { input_tokens: estimateTokens([input.messages, input.system]) });
      return;
    }
    if (method === 'GET' && path === '/v1/models') {
      const data = MODELS.map((m) => ({ type: 'model', created_at: '2025-01-01T00:00:00Z', ...m }));
      sendJson(res, 200, {
        data,
        has_more: false,
        first_id: data[0]?.id ?? null,
        last_id: data[data.length - 1]?.id ?? null,
      });
      return;
    }
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const wanted = decodeURIComponent(path.slice('/v1/models/'.length));
      const model = MODELS.find((m) => m.id === wanted);
      if (model !== undefined) {
        sendJson(res, 200, { type: 'model', created_at: '2025-01-01T00:00:00Z', ...model });
        return;
      }
    }
    sendError(res, 404, `fake api: no route for ${method} ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        sendError(res, 500, `fake api internal error: ${String(err)}`);
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    messageRequests: () =>
      requests.filter((r) => r.method === 'POST' && (r.url.split('?')[0] ?? '') === '/v1/messages'),
    setScript(next: FakeScriptSource): void {
      source = next;
      erroredMessages = 0;
    },
    close(): Promise<void> {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
    },
  };
}
