/**
 * Reads one stream-json line that is too large to hold in memory (a huge answer) piece by
 * piece. It keeps a small skeleton of the line — every structural token and every string up
 * to a bound, with longer strings emptied — and streams the top-level `result` string, decoded,
 * to a sink. Parsing the skeleton then gives the envelope's facts (session, cost, turns) while
 * the answer itself never has to exist as one string.
 */
export type AnswerSink = {
  /** Decoded answer text, in order. */
  readonly write: (text: string) => void;
};

/** Strings up to this many characters stay in the skeleton; longer ones are emptied. */
const KEEP_STRING_CHARS = 64 * 1024;
const DECODE_BATCH_CHARS = 1024 * 1024;

type Container = { readonly object: boolean; expectKey: boolean };
type StringMode = 'key' | 'answer' | 'value';

export class LineSkeleton {
  readonly #openSink: () => AnswerSink;
  readonly #skeleton: string[] = [];
  readonly #stack: Container[] = [];
  #mode: StringMode | undefined;
  /** Raw (escaped) text of the string being read, while it is short enough to keep. */
  #raw: string[] = [];
  #rawChars = 0;
  #dropped = false;
  /** An escape sequence cut by a chunk boundary. */
  #pendingEscape = '';
  #lastKey: string | undefined;
  #sink: AnswerSink | undefined;
  /** A high surrogate waiting for its pair (decoded pieces may split a pair). */
  #heldSurrogate = '';
  #answerChars = 0;
  #answerRaw: string[] = [];
  #answerRawChars = 0;

  constructor(openSink: () => AnswerSink) {
    this.#openSink = openSink;
  }

  /** Characters of the decoded answer streamed to the sink (0 if the line had none). */
  get answerChars(): number {
    return this.#answerChars;
  }

  get sawAnswer(): boolean {
    return this.#sink !== undefined;
  }

  push(chunk: string): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#mode !== undefined) i = this.#inString(chunk, i);
      else i = this.#outside(chunk, i);
    }
  }

  /** The line's skeleton: valid JSON if the line was. */
  end(): string {
    this.#decodeAnswer();
    if (this.#heldSurrogate !== '') {
      this.#sink?.write(this.#heldSurrogate);
      this.#heldSurrogate = '';
    }
    return this.#skeleton.join('');
  }

  #outside(chunk: string, from: number): number {
    const quote = chunk.indexOf('"', from);
    const end = quote === -1 ? chunk.length : quote;
    for (let i = from; i < end; i++) {
      const top = this.#stack[this.#stack.length - 1];
      switch (chunk[i]) {
        case '{':
          this.#stack.push({ object: true, expectKey: true });
          break;
        case '[':
          this.#stack.push({ object: false, expectKey: false });
          break;
        case '}':
        case ']':
          this.#stack.pop();
          break;
        case ':':
          if (top?.object) top.expectKey = false;
          break;
        case ',':
          if (top?.object) top.expectKey = true;
          break;
      }
    }
    this.#skeleton.push(chunk.slice(from, end));
    if (quote === -1) return chunk.length;
    const top = this.#stack[this.#stack.length - 1];
    const isKey = top?.object === true && top.expectKey;
    const topLevelValue = this.#stack.length === 1 && top?.object === true && !isKey;
    this.#mode = isKey
      ? 'key'
      : topLevelValue && this.#lastKey === 'result' && this.#sink === undefined
        ? 'answer'
        : 'value';
    if (this.#mode === 'answer') this.#sink = this.#openSink();
    this.#raw = [];
    this.#rawChars = 0;
    this.#dropped = false;
    return quote + 1;
  }

  #inString(chunk: string, from: number): number {
    const held = this.#pendingEscape;
    this.#pendingEscape = '';
    const text = held + chunk.slice(from);
    for (let search = 0; ; ) {
      const quote = text.indexOf('"', search);
      if (quote === -1) break;
      if (!escaped(text, quote)) {
        this.#content(text.slice(0, quote));
        this.#closeString();
        return from + quote + 1 - held.length;
      }
      search = quote + 1;
    }
    // The string goes on in the next chunk: hold back an escape sequence cut in two.
    const cut = incompleteEscape(text);
    this.#content(text.slice(0, cut));
    this.#pendingEscape = text.slice(cut);
    return chunk.length;
  }

  /** Raw string text made of whole escape sequences. */
  #content(raw: string): void {
    if (raw === '') return;
    if (this.#mode === 'answer') {
      this.#answerRaw.push(raw);
      this.#answerRawChars += raw.length;
      if (this.#answerRawChars >= DECODE_BATCH_CHARS) this.#decodeAnswer();
      return;
    }
    if (this.#dropped) return;
    this.#rawChars += raw.length;
    if (this.#rawChars > KEEP_STRING_CHARS) {
      this.#dropped = true;
      this.#raw = [];
      return;
    }
    this.#raw.push(raw);
  }

  /** Decode the answer text gathered so far (in batches: one native parse per megabyte). */
  #decodeAnswer(): void {
    if (this.#answerRawChars === 0) return;
    let text = this.#heldSurrogate + (JSON.parse(`"${this.#answerRaw.join('')}"`) as string);
    this.#answerRaw = [];
    this.#answerRawChars = 0;
    this.#heldSurrogate = '';
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#heldSurrogate = text.slice(-1);
      text = text.slice(0, -1);
    }
    this.#answerChars += text.length;
    this.#sink?.write(text);
  }

  #closeString(): void {
    if (this.#mode === 'answer') this.#decodeAnswer();
    const raw = this.#mode === 'answer' || this.#dropped ? '' : this.#raw.join('');
    if (this.#mode === 'key') this.#lastKey = JSON.parse(`"${raw}"`) as string;
    this.#skeleton.push(`"${raw}"`);
    this.#mode = undefined;
    this.#raw = [];
  }
}

/** Is the quote at `at` escaped (preceded by an odd number of backslashes)? */
function escaped(text: string, at: number): boolean {
  let k = at - 1;
  while (k >= 0 && text.charCodeAt(k) === 0x5c) k--;
  return (at - 1 - k) % 2 === 1;
}

/** Where an escape sequence cut off by the end of `text` starts (text.length if none is). */
function incompleteEscape(text: string): number {
  const tail = /\\(?:u[0-9a-fA-F]{0,3})?$/.exec(text.slice(-6));
  if (tail === null) return text.length;
  const at = text.length - tail[0].length;
  // Only a backslash that starts an escape counts (not the second half of `\\`).
  return escaped(text, at) ? text.length : at;
}
