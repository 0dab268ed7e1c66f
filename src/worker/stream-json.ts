/**
 * Incremental reader of `--output-format stream-json` (NDJSON): surfaces the session id,
 * turns and tool uses as they happen, and keeps the final `result` envelope.
 */
import {
  parseAs,
  type ResultEnvelope,
  ResultEnvelopeSchema,
  type StreamEvent,
  StreamEventSchema,
  type ToolUse,
  ToolUseSchema,
} from '../shared/cli-output.ts';
import type { ProgressEvent } from '../shared/wire.ts';
import { type AnswerSink, LineSkeleton } from './line-skeleton.ts';

export type StreamSummary = {
  readonly result: ResultEnvelope | undefined;
  readonly sessionId: string | null;
  readonly model: string | null;
  readonly turns: number;
  /** Lines that were not JSON objects (quoted if no envelope arrives). */
  readonly junk: string;
  /** JSON events read, and the type of the last one (said when no envelope arrives). */
  readonly events: number;
  readonly lastEventType: string | null;
  /**
   * The result envelope's answer went to the answer sink (its line was too long to hold);
   * the envelope's `result` is then empty.
   */
  readonly answerInSink: boolean;
};

export type ReaderOptions = {
  /** Lines longer than this many characters are read as a skeleton (see line-skeleton.ts). */
  readonly maxLineChars: number;
  /** Where the answer of such a line goes. */
  readonly openAnswerSink: () => AnswerSink;
};

const MAX_JUNK_CHARS = 2048;

export class StreamJsonReader {
  /** The current line's text so far (kept as pieces: re-joining on every chunk is quadratic). */
  #parts: string[] = [];
  #partChars = 0;
  #skeleton: LineSkeleton | undefined;
  #answerInSink = false;
  readonly #options: ReaderOptions | undefined;
  #result: ResultEnvelope | undefined;
  #sessionId: string | null = null;
  #model: string | null = null;
  #messageIds = new Set<string>();
  #turns = 0;
  #junk = '';
  #events = 0;
  #lastEventType: string | null = null;
  readonly #onProgress: (event: ProgressEvent) => void;

  constructor(onProgress: (event: ProgressEvent) => void, options?: ReaderOptions) {
    this.#onProgress = onProgress;
    this.#options = options;
  }

  push(chunk: string): void {
    let from = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', from);
      this.#append(newline === -1 ? chunk.slice(from) : chunk.slice(from, newline));
      if (newline === -1) return;
      this.#endLine();
      from = newline + 1;
    }
  }

  end(): StreamSummary {
    this.#endLine();
    return {
      result: this.#result,
      sessionId: this.#sessionId,
      model: this.#model,
      turns: this.#turns,
      junk: this.#junk,
      events: this.#events,
      lastEventType: this.#lastEventType,
      answerInSink: this.#answerInSink,
    };
  }

  #append(piece: string): void {
    if (piece === '') return;
    if (this.#skeleton !== undefined) {
      this.#skeleton.push(piece);
      return;
    }
    this.#parts.push(piece);
    this.#partChars += piece.length;
    const options = this.#options;
    if (options !== undefined && this.#partChars > options.maxLineChars) {
      // Too long to hold: keep its skeleton and stream its answer out.
      this.#skeleton = new LineSkeleton(options.openAnswerSink);
      for (const part of this.#parts) this.#skeleton.push(part);
      this.#parts = [];
      this.#partChars = 0;
    }
  }

  #endLine(): void {
    const skeleton = this.#skeleton;
    if (skeleton !== undefined) {
      this.#skeleton = undefined;
      const text = skeleton.end();
      const before = this.#result;
      this.#line(text);
      if (skeleton.sawAnswer && this.#result !== before) this.#answerInSink = true;
      return;
    }
    if (this.#partChars === 0) return;
    const line = this.#parts.join('');
    this.#parts = [];
    this.#partChars = 0;
    this.#line(line);
  }

  #line(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      json = undefined;
    }
    const event = parseAs(StreamEventSchema, json);
    if (event === undefined || Array.isArray(json)) {
      if (this.#junk.length < MAX_JUNK_CHARS) this.#junk += `${line}\n`;
      return;
    }
    this.#events += 1;
    this.#lastEventType = event.type ?? null;
    this.#noteSession(event);
    switch (event.type) {
      case 'system':
        if (event.subtype === 'init' && event.model !== undefined) {
          this.#model = event.model;
          if (this.#sessionId !== null) {
            this.#onProgress({ kind: 'session', session_id: this.#sessionId, model: this.#model });
          }
        }
        break;
      case 'assistant':
        if (event.message !== undefined) this.#assistant(event.message);
        break;
      case 'result':
        this.#result = parseAs(ResultEnvelopeSchema, json) ?? this.#result;
        break;
    }
  }

  #noteSession(event: StreamEvent): void {
    const id = event.session_id;
    if (id !== undefined && id !== '' && this.#sessionId !== id) {
      const first = this.#sessionId === null;
      this.#sessionId = id;
      if (!first || event.type !== 'system') {
        this.#onProgress({ kind: 'session', session_id: id, model: this.#model });
      }
    }
  }

  #assistant(message: NonNullable<StreamEvent['message']>): void {
    const id = message.id ?? `anonymous-${this.#turns + 1}`;
    // The CLI may emit one event per content block of the same API message: count messages.
    if (!this.#messageIds.has(id)) {
      this.#messageIds.add(id);
      this.#turns += 1;
    }
    const tools: string[] = [];
    for (const block of message.content ?? []) {
      const use = parseAs(ToolUseSchema, block);
      if (use !== undefined) tools.push(describeToolUse(use));
    }
    this.#onProgress({ kind: 'turn', turn: this.#turns, tools });
  }
}

const MAX_TOOL_SUMMARY = 80;

/** `Read src/app.ts`, `Grep TODO`, `Bash git log -5`: short enough for a progress line. */
export function describeToolUse(block: ToolUse): string {
  const name = block.name ?? 'tool';
  const input = block.input ?? {};
  const subject = ['file_path', 'path', 'pattern', 'command', 'url', 'query', 'description']
    .map((key) => input[key])
    .find((value): value is string => typeof value === 'string' && value !== '');
  if (subject === undefined) return name;
  const flat = subject.replace(/\s+/g, ' ').trim();
  const cut = flat.length > MAX_TOOL_SUMMARY ? `${flat.slice(0, MAX_TOOL_SUMMARY - 1)}…` : flat;
  return `${name} ${cut}`;
}
