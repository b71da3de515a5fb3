// The zlib contexts for SPDY/3 header blocks. SPDY compresses every header block of one direction with a
// single deflate stream for the whole connection, primed with the SPDY/3 dictionary and sync-flushed
// after each block (Go's spdy framer: zlib.NewWriterLevelDict(BestCompression) + Flush). A block is
// therefore only meaningful to an inflater that has seen every earlier block of that direction, and
// each context must handle one block at a time, in connection order.
//
// Node's zlib streams are asynchronous, so each context runs its blocks through a promise chain: the
// stream is created with flush = Z_SYNC_FLUSH, so one write yields exactly the bytes of that block,
// which zlib pushes into the (paused) readable side before the write's callback runs; the callback then
// drains them with read().

import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';

type ZlibStream = Deflate | Inflate;

class HeaderZlibContext {
  readonly #stream: ZlibStream;
  #tail: Promise<unknown> = Promise.resolve();
  #failure: Error | undefined;
  /** the block in progress fails with the stream: zlib may emit 'error' without calling back */
  #rejectCurrent: ((error: Error) => void) | undefined;

  constructor(stream: ZlibStream) {
    this.#stream = stream;
    const context = this;
    stream.on('error', function headerZlibOnError(error: Error): void {
      context.#failure ??= error;
      context.#rejectCurrent?.(error);
    });
  }

  /** Runs one block through the context after every block submitted before it. */
  process(block: Buffer): Promise<Buffer> {
    const result = this.#tail.then(() => this.#processNow(block));
    this.#tail = result.catch(() => undefined);
    return result;
  }

  #processNow(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#failure !== undefined) {
        reject(this.#failure);
        return;
      }
      const stream = this.#stream;
      this.#rejectCurrent = reject;
      const onWritten = (error: Error | null | undefined): void => {
        this.#rejectCurrent = undefined;
        if (error) {
          this.#failure ??= error;
          reject(error);
          return;
        }
        const output: unknown = stream.read();
        resolve(Buffer.isBuffer(output) ? output : Buffer.alloc(0));
      };
      stream.write(block, onWritten);
    });
  }

  close(): void {
    this.#failure ??= new Error('header compression context closed');
    this.#rejectCurrent?.(this.#failure);
    this.#stream.destroy();
  }
}

/** Compresses the header blocks this side sends. */
export class HeaderDeflater {
  readonly #context = new HeaderZlibContext(
    createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY, level: constants.Z_BEST_COMPRESSION, flush: constants.Z_SYNC_FLUSH }),
  );

  compress(block: Buffer): Promise<Buffer> {
    return this.#context.process(block);
  }

  close(): void {
    this.#context.close();
  }
}

/** Decompresses the header blocks the peer sends; a corrupt block fails this and every later block. */
export class HeaderInflater {
  readonly #context = new HeaderZlibContext(
    createInflate({ dictionary: SPDY3_HEADER_DICTIONARY, flush: constants.Z_SYNC_FLUSH }),
  );

  decompress(block: Buffer): Promise<Buffer> {
    return this.#context.process(block);
  }

  close(): void {
    this.#context.close();
  }
}
