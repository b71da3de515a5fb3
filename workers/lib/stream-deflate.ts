// One raw-deflate context per streaming response (docs/protocol.md, binary stream frames): every chunk is
// compressed against the stream's history and flushed to a byte boundary (Z_SYNC_FLUSH), so each watch
// event is decodable the moment its frame arrives while later events still refer back to earlier ones.
// That is what takes a pod watch to under a tenth of its raw size; a separate gzip per event does not.
//
// A context costs about 256 KiB (32 KiB window ×2 plus the hash tables at memLevel 8), so it is created on
// the first chunk and dropped after IDLE_RELEASE_MS without one: a quiet watch holds no context. The next
// chunk then starts a new context, which the frame kind tells the control plane (deflatedChunkStart).

import { constants, createDeflateRaw, type DeflateRaw } from 'node:zlib';
import { compressionSkipReason } from '../../src/protocol/compression-policy.js';
import { COMPRESSION_MIN_BYTES } from '../../src/protocol/constants.js';
import { firstHeader, type HeaderMap } from '../../src/protocol/headers.js';

/** A context unused this long is released; the next chunk starts a new one. */
export const IDLE_RELEASE_MS = 15_000;

/**
 * §11 rules (2)–(4) for a streamed body: no Content-Encoding but identity, a textual Content-Type that is
 * not already compressed. Rule (1), the 1024-byte minimum, is about one body; a stream's events are small
 * and compress well precisely because the context spans them.
 */
export function isStreamCompressible(headers: HeaderMap | null): boolean {
  const map = headers ?? {};
  return compressionSkipReason(COMPRESSION_MIN_BYTES, firstHeader(map, 'content-encoding'), firstHeader(map, 'content-type')) === undefined;
}

export interface DeflatedChunk {
  readonly bytes: Buffer;
  /** The first output of a fresh context: the control plane starts a new inflater for it. */
  readonly isStart: boolean;
}

export class StreamDeflate {
  #context: DeflateRaw | undefined;
  #output: Buffer[] = [];
  /** Fails the chunk being compressed. */
  #onError: ((error: Error) => void) | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #isBusy = false;
  /** Closed by its stream: a flush still running releases the context when it completes. */
  #isClosed = false;

  /**
   * Compresses `chunk` and flushes; resolves with everything the flush produced. Calls must not overlap
   * (the caller pauses its source until this resolves), so outputs come out in chunk order.
   */
  deflate(chunk: Uint8Array): Promise<DeflatedChunk> {
    if (this.#isBusy) return Promise.reject(new Error('stream deflate called while busy'));
    this.#isBusy = true;
    this.#isClosed = false;
    clearTimeout(this.#idleTimer);
    const isStart = this.#context === undefined;
    const context = (this.#context ??= this.#open());
    return new Promise<DeflatedChunk>((resolve, reject) => {
      // zlib reports a failure as 'error' and may never call the flush back: fail the chunk from there too.
      this.#onError = (error) => {
        this.#isBusy = false;
        this.close();
        reject(error);
      };
      context.write(chunk);
      context.flush(constants.Z_SYNC_FLUSH, () => {
        if (!this.#isBusy) return; // failed already
        this.#isBusy = false;
        this.#onError = undefined;
        const bytes = this.#output.length === 1 ? this.#output[0]! : Buffer.concat(this.#output);
        this.#output = [];
        if (this.#isClosed) this.#release();
        else {
          this.#idleTimer = setTimeout(() => this.#release(), IDLE_RELEASE_MS);
          this.#idleTimer.unref();
        }
        resolve({ bytes, isStart });
      });
    });
  }

  /** Releases the context now, or as soon as the flush in progress completes. */
  close(): void {
    clearTimeout(this.#idleTimer);
    this.#isClosed = true;
    this.#release();
  }

  #open(): DeflateRaw {
    const context = createDeflateRaw({ level: constants.Z_DEFAULT_COMPRESSION });
    context.on('data', (bytes: Buffer) => this.#output.push(bytes));
    context.on('error', (error: Error) => this.#onError?.(error));
    return context;
  }

  #release(): void {
    if (this.#isBusy) return;
    this.#context?.close();
    this.#context = undefined;
    this.#output = [];
  }
}
