/**
 * Splits stdin into newline-delimited frames without ever holding more than one frame's worth
 * of bytes: a frame over the limit is dropped as it streams in, and reported once its newline
 * (or the end of input) arrives. A last frame without a trailing newline is still delivered.
 */
export type FrameSink = {
  readonly frame: (line: string) => void;
  readonly oversized: () => void;
};

export class FrameSplitter {
  readonly #maxBytes: number;
  readonly #sink: FrameSink;
  #chunks: Buffer[] = [];
  #pendingBytes = 0;
  #discarding = false;

  constructor(maxBytes: number, sink: FrameSink) {
    this.#maxBytes = maxBytes;
    this.#sink = sink;
  }

  push(chunk: Buffer): void {
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

  /** End of input: a pending frame without its newline is still a frame. */
  end(): void {
    if (this.#discarding || this.#pendingBytes > 0) this.#endLine();
  }

  #take(part: Buffer): void {
    if (this.#discarding || part.length === 0) return;
    this.#pendingBytes += part.length;
    if (this.#pendingBytes > this.#maxBytes) {
      this.#discarding = true;
      this.#chunks = [];
      return;
    }
    // The caller may reuse its buffer: keep a copy.
    this.#chunks.push(Buffer.from(part));
  }

  #endLine(): void {
    const discarded = this.#discarding;
    const line = discarded ? '' : Buffer.concat(this.#chunks).toString('utf8').trim();
    this.#discarding = false;
    this.#chunks = [];
    this.#pendingBytes = 0;
    if (discarded) this.#sink.oversized();
    else if (line !== '') this.#sink.frame(line);
  }
}
