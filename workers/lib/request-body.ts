// Request bodies that do not come inline: a binary request-body frame the actor waits for (§9.14), or a
// stream of `proxy_request_chunk`s fed to the upstream call as they arrive (§9.15). The stream's queue is
// bounded (bytes decoded but not yet accepted by the upstream socket) and has a gap limit.

import type { Writable } from 'node:stream';
import { parseEnvelope } from '../../src/protocol/envelope.js';
import { InboundType } from '../../src/protocol/message-types.js';
import { decodeBase64Strict } from './proxy-request.js';
import { AgentError, ErrorCode } from '../../src/errors.js';

/** The request body did not arrive whole (§9.14, §9.15); the message is the protocol's text. */
export class BodyIntakeError extends AgentError {
  constructor(message: string) {
    super(ErrorCode.requestBodyFailed, message);
    this.name = 'BodyIntakeError';
  }
}

/**
 * Waits for the binary body; rejects with "binary body not received" after `timeoutMs`. The owner calls
 * `dispose()` when the request ends, however it ends: the timer never outlives the request.
 */
export class BinaryBodyWait {
  readonly promise: Promise<Uint8Array>;
  #resolve!: (body: Uint8Array) => void;
  #reject!: (error: Error) => void;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A request can fail before it awaits its body; an unobserved rejection would then end the process (inline)
    // or the worker thread with every stream on it. Whoever awaits `promise` still sees the rejection.
    this.promise.catch(() => undefined);
    this.#timer = setTimeout(() => this.#reject(new BodyIntakeError('binary body not received')), timeoutMs);
  }

  deliver(body: Uint8Array): void {
    clearTimeout(this.#timer);
    this.#resolve(body);
  }

  abort(error: Error): void {
    clearTimeout(this.#timer);
    this.#reject(error);
  }

  /** Ends the wait, settled or not: the timer is cleared and a later body is ignored. */
  dispose(): void {
    this.abort(new BodyIntakeError('request ended'));
  }
}

/**
 * Feeds `proxy_request_chunk` data into the upstream request in arrival order. `write()` backpressure is
 * honoured: while the socket is full, decoded chunks wait in the queue, whose size is bounded.
 */
export class StreamedBody {
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writtenBytes = 0;
  #isEnded = false;
  #isWaitingForDrain = false;
  #sink: Writable | undefined;
  #gapTimer: NodeJS.Timeout | undefined;
  readonly #maxQueueBytes: number;
  readonly #gapLimitMs: number;
  readonly #onFailure: (error: BodyIntakeError) => void;

  constructor(maxQueueBytes: number, gapLimitMs: number, onFailure: (error: BodyIntakeError) => void) {
    this.#maxQueueBytes = maxQueueBytes;
    this.#gapLimitMs = gapLimitMs;
    this.#onFailure = onFailure;
    this.#armGapTimer();
  }

  /** Starts writing to the upstream request; chunks that arrived before are written first. */
  attach(sink: Writable): void {
    this.#sink = sink;
    sink.on('drain', () => {
      this.#isWaitingForDrain = false;
      this.#flush();
    });
    this.#flush();
  }

  /** One `proxy_request_chunk` or `proxy_request_stream_end` envelope for this request. */
  accept(frame: Uint8Array): void {
    if (this.#isEnded) return;
    // The router routed it by a peek at type and id; the JSON can still be broken further in (§9.15).
    const envelope = parseEnvelope(frame);
    if (envelope === undefined) {
      this.#fail(new BodyIntakeError('invalid request body chunk'));
      return;
    }
    if (envelope.type === InboundType.proxyRequestStreamEnd) {
      this.#isEnded = true;
      clearTimeout(this.#gapTimer);
      this.#flush();
      return;
    }
    const data = envelope.payload['data'] ?? envelope.payload['chunk'];
    if (data === '') {
      this.#armGapTimer();
      return;
    }
    const bytes = typeof data === 'string' ? decodeBase64Strict(data) : undefined;
    if (bytes === undefined) {
      this.#fail(new BodyIntakeError('invalid request body chunk'));
      return;
    }
    if (this.#queuedBytes + bytes.length > this.#maxQueueBytes) {
      this.#fail(new BodyIntakeError('request body stream overflow'));
      return;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#armGapTimer();
    this.#flush();
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes handed to the upstream request so far. */
  get writtenBytes(): number {
    return this.#writtenBytes;
  }

  stop(): void {
    clearTimeout(this.#gapTimer);
    this.#isEnded = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  #flush(): void {
    const sink = this.#sink;
    if (sink === undefined || sink.destroyed) return;
    while (!this.#isWaitingForDrain && this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      this.#queuedBytes -= chunk.length;
      this.#writtenBytes += chunk.length;
      if (!sink.write(chunk)) this.#isWaitingForDrain = true;
    }
    if (this.#isEnded && this.#queue.length === 0 && !sink.writableEnded) sink.end();
  }

  #armGapTimer(): void {
    clearTimeout(this.#gapTimer);
    this.#gapTimer = setTimeout(() => this.#fail(new BodyIntakeError('request body stream timed out')), this.#gapLimitMs);
  }

  #fail(error: BodyIntakeError): void {
    this.stop();
    this.#onFailure(error);
  }
}
