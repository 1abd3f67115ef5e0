/** Keeps the last `limit` bytes written to a stream: enough of a crashed worker's traceback, bounded memory. */
export class StderrTail {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #dropped = false;

  constructor(limit: number) {
    this.#limit = Math.max(0, limit);
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.#limit && this.#chunks.length > 0) {
      const excess = this.#size - this.#limit;
      const first = this.#chunks[0]!;
      this.#dropped = true;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }

  /** The kept bytes as UTF-8 text; a cut multi-byte character at the start shows as U+FFFD. */
  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }

  /** True when older output was discarded to stay within the limit. */
  get truncated(): boolean {
    return this.#dropped;
  }
}
