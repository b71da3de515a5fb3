// The HTTP relay actor: one `proxy_request` from decode to the last response message (PROTOCOL.md §9).
// It runs in a pool worker or inline; either way it talks to the router only through its MessagePort:
// later frames, a binary body, credit and cancel in; already-encoded frames and one `done` out.
//
//   parse ─► body (inline | wait for binary frame | stream chunks) ─► upstream call ─► response head
//     ├─ buffered: read all ─► binary frame or proxy_response (gzip when eligible) ─► done
//     └─ streaming: header ─► chunk … (pause at zero credit) ─► end | abort ─► done

import { ActorName, type CancelReason, type HttpRelayTask, type RelayOutcome, type ResponseMode } from '../src/messages/actor-messages.js';
import type { Logger } from '../src/log.js';
import { parseEnvelope } from '../src/protocol/envelope.js';
import { OutboundType } from '../src/protocol/message-types.js';
import { responseHeadersFromRaw } from '../src/protocol/headers.js';
import { ActorContext, workerActorContext } from './lib/actor-context.js';
import { parseProxyRequest, type ProxyRequest } from './lib/proxy-request.js';
import { detectClusterDomain, serviceCallError, serviceOrigin, withRoutedService } from './lib/service-target.js';
import { serviceUpstream, type Upstream } from './lib/upstream.js';
import { RouterPort, type UpstreamBytes } from './lib/router-port.js';
import { BinaryBodyWait, StreamedBody } from './lib/request-body.js';
import { RelayFailure, asRelayFailure, failureLabel, startExchange, type Exchange, type UpstreamResponse } from './lib/upstream-exchange.js';
import { encodeBufferedResponse, type CompressionResult } from './lib/buffered-response.js';
import { CreditWindow } from './lib/credit-window.js';
import { gzipEngine } from './lib/gzip-engine.js';
import { aliasLookup } from './lib/host-aliases.js';
import { ErrorCode } from '../src/errors.js';
import { MAX_BINARY_ID_BYTES } from '../src/protocol/constants.js';
import { setLongTimeout } from '../src/protocol/long-timeout.js';
import { runWebSocketUpgrade, type UpgradeResult } from './lib/websocket-upgrade.js';
import { StreamDeflate, isStreamCompressible } from './lib/stream-deflate.js';
import { StreamFrameKind, encodeStreamFrame } from '../src/protocol/stream-frame.js';

export { ActorContext } from './lib/actor-context.js';

/** Largest decoded size of one `proxy_response_chunk` (§9.11 allows coalescing up to 256 KiB). */
const MAX_CHUNK_BYTES = 256 * 1024;

class Relay {
  readonly #task: HttpRelayTask;
  readonly #context: ActorContext;
  readonly #logger: Logger;
  readonly #port: RouterPort;
  readonly #controller = new AbortController();
  /** The request's arrival at the router: its deadline counts from there (§9.4). */
  readonly #startedMs: number;
  #cancelReason: CancelReason | undefined;
  #isStreaming = false;
  #isHeaderSent = false;
  #mode: ResponseMode = 'none';
  #compression: CompressionResult | undefined;
  #binaryWait: BinaryBodyWait | undefined;
  #streamedBody: StreamedBody | undefined;
  #credit: CreditWindow;
  /** Set when the request was a WebSocket upgrade (§13.8, §14), run by the relay core. */
  #upgrade: UpgradeResult | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #exchange: Exchange | undefined;
  readonly #bytes: UpstreamBytes = { sent: 0, received: 0 };

  constructor(task: HttpRelayTask, context: ActorContext) {
    this.#task = task;
    this.#startedMs = task.arrivedMs ?? Date.now();
    this.#context = context;
    this.#logger = context.actorLogger(ActorName.httpRelay);
    this.#port = new RouterPort(task.port, task.requestId, task.shouldUseStreamFrames === true);
    this.#credit = new CreditWindow(context.config.tuning.streamCreditBytes);
    this.#port.listen({
      onFrame: this.#contained((data) => this.#streamedBody?.accept(data)),
      onBody: this.#contained((data) => this.#binaryWait?.deliver(data)),
      onCredit: this.#contained((bytes) => this.#credit.grant(bytes)),
      onCancel: this.#contained((reason) => this.#cancel(reason)),
    });
  }

  /**
   * Port and upstream listeners run outside `run()`'s try: an exception there would be uncaught and take the
   * process or the worker thread down with every stream on it. It ends this request instead (C93).
   */
  #contained<T>(listener: (value: T) => void): (value: T) => void {
    return (value) => {
      try {
        listener(value);
      } catch (error) {
        this.#abortWith(asRelayFailure(error));
      }
    };
  }

  async run(): Promise<void> {
    let outcome: RelayOutcome = 'ok';
    /** What ended the request, when it did not succeed; its `code` is one of src/errors.ts. */
    let failure: RelayFailure | undefined;
    try {
      await this.#relay();
      if (this.#upgrade !== undefined) outcome = this.#upgrade.outcome;
    } catch (error) {
      failure = this.#report(error);
      outcome = failure.outcome;
      this.#exchange?.destroy();
    } finally {
      clearTimeout(this.#deadlineTimer);
      this.#binaryWait?.dispose();
      this.#streamedBody?.stop();
      if (this.#streamedBody !== undefined) this.#bytes.sent = this.#streamedBody.writtenBytes;
      const durationMs = Date.now() - this.#startedMs;
      const stats = this.#upgrade?.stats;
      const session = stats === undefined ? undefined : { framesIn: stats.framesIn, framesOut: stats.framesOut, dropped: stats.dropped };
      this.#port.done({ outcome, mode: this.#mode, durationMs, bytes: this.#bytes, compression: this.#compression, session, failure });
      this.#port.close();
    }
    this.#logger.debug({ requestId: this.#task.requestId, outcome, code: failure?.code, mode: this.#mode }, 'request finished');
  }

  async #relay(): Promise<void> {
    const { config } = this.#context;
    const envelope = parseEnvelope(this.#task.frame);
    if (envelope === undefined) throw new RelayFailure('invalid', 'invalid proxy_request: not a JSON object with a type');
    if (!envelope.payloadIsObject) throw new RelayFailure('invalid', 'invalid proxy_request: payload must be a JSON object');
    const parsed = parseProxyRequest(envelope.payload, this.#startedMs, config.requestTimeoutMs);
    if (!parsed.ok) throw new RelayFailure('invalid', `invalid proxy_request: ${parsed.reason}`);
    const request = withRoutedService(parsed.request, this.#task.routedService);
    if (request.body.kind === 'binary-frame' && Buffer.byteLength(this.#task.requestId, 'utf8') > MAX_BINARY_ID_BYTES) {
      // §9.3: a request-body frame names its request in at most 65,535 bytes; this one could never arrive.
      throw new RelayFailure('invalid', `invalid proxy_request: body_binary needs a request id of at most ${MAX_BINARY_ID_BYTES} UTF-8 bytes`);
    }
    this.#isStreaming = request.supportsResponseStreaming;
    if (request.isWebSocket) {
      // The relay takes over the port's listener before its first await (frames, credit, cancel).
      this.#upgrade = await runWebSocketUpgrade(this.#task.requestId, request, this.#port, this.#context, this.#startedMs);
      return;
    }
    // Built when needed: an error's stack capture costs tens of µs, on every request otherwise.
    const deadlineFailure = (): RelayFailure => new RelayFailure('timeout', 'context deadline exceeded');
    if (request.deadlineMs <= this.#startedMs) throw deadlineFailure();
    const upstream = this.#chooseUpstream(request);
    // Everything that can fail at once has been checked: only now are body timers armed.
    if (request.body.kind === 'binary-frame') this.#binaryWait = new BinaryBodyWait(config.tuning.binaryBodyTimeoutMs);
    if (request.body.kind === 'stream') {
      this.#streamedBody = new StreamedBody(config.tuning.bodyQueueBytes, config.tuning.bodyStreamGapMs, (error) => this.#abortWith(error));
    }
    this.#deadlineTimer = setLongTimeout(() => this.#abortWith(deadlineFailure()), request.deadlineMs - Date.now());
    const isKube = request.service === undefined;
    let body: Uint8Array | StreamedBody = request.body.kind === 'bytes' ? request.body.bytes : new Uint8Array(0);
    if (this.#binaryWait !== undefined) body = await this.#untilAborted(this.#binaryWait.promise);
    if (this.#streamedBody !== undefined) body = this.#streamedBody;
    this.#logger.debug({ requestId: this.#task.requestId, method: request.method, isKube }, 'relaying request');
    const exchange = startExchange({ upstream, request, isKube, shouldDropAcceptEncoding: config.dropAcceptEncoding, body });
    this.#exchange = exchange;
    if (body instanceof Uint8Array) this.#bytes.sent = body.length;
    if (this.#controller.signal.aborted) exchange.destroy();
    else this.#controller.signal.addEventListener('abort', () => exchange.destroy(), { once: true });
    const response = await this.#untilAborted(exchange.response);
    if (this.#isStreaming) await this.#streamResponse(response, isKube);
    else await this.#bufferResponse(response, isKube);
  }

  #chooseUpstream(request: ProxyRequest): Upstream {
    if (request.service !== undefined) {
      const error = serviceCallError(request.service, request.path, request.query);
      if (error !== undefined) throw new RelayFailure('invalid', error);
      return serviceUpstream(serviceOrigin(request.service, detectClusterDomain()), aliasLookup(this.#context.config.tuning.hostAliases));
    }
    const kube = this.#context.kubeUpstream();
    if (kube instanceof Error) throw new RelayFailure('upstream_error', 'kubernetes client not initialized', ErrorCode.kubeUnavailable);
    return kube;
  }

  async #bufferResponse(response: UpstreamResponse, isKube: boolean): Promise<void> {
    const limit = this.#context.config.tuning.maxBufferedBodyBytes;
    const body = await this.#untilAborted(
      new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on(
          'data',
          this.#contained((chunk: Buffer) => {
            size += chunk.length;
            this.#bytes.received += chunk.length;
            if (size > limit) {
              response.destroy();
              reject(new RelayFailure('upstream_error', 'response body too large', ErrorCode.responseTooLarge));
            } else chunks.push(chunk);
          }),
        );
        response.on('error', (error: Error) => reject(new RelayFailure('upstream_error', `${failureLabel(isKube)}: ${error.message}`)));
        response.on('aborted', () => reject(new RelayFailure('upstream_error', `${failureLabel(isKube)}: response aborted`)));
        response.on('end', () => resolve(Buffer.concat(chunks, size)));
      }),
    );
    const status = response.statusCode ?? 502;
    const headers = responseHeadersFromRaw(response.rawHeaders, status);
    const { config } = this.#context;
    const encoded = encodeBufferedResponse(this.#task.requestId, status, headers, body, gzipEngine(config.compression), config.tuning.isBinaryResponseEnabled, this.#task.isYamuxActive === true);
    this.#compression = encoded.compression;
    if (encoded.kind === 'binary') {
      this.#mode = 'binary';
      this.#port.sendBinary(encoded.frame);
    } else {
      this.#mode = 'json';
      this.#port.sendJson(OutboundType.proxyResponse, encoded.payload);
    }
  }

  async #streamResponse(response: UpstreamResponse, isKube: boolean): Promise<void> {
    const status = response.statusCode ?? 502;
    this.#mode = 'streaming';
    const headers = responseHeadersFromRaw(response.rawHeaders, status);
    this.#port.sendJson(OutboundType.proxyResponseHeader, { status, headers });
    this.#isHeaderSent = true;
    // With stream frames an eligible body is deflated with one context for the whole stream (the extension).
    const shouldDeflate = this.#port.streamFrameId !== undefined && this.#context.config.compression !== 'off' && isStreamCompressible(headers);
    const deflate = shouldDeflate ? new StreamDeflate() : undefined;
    try {
      await this.#untilAborted(
        new Promise<void>((resolve, reject) => {
          // Deflating is asynchronous: while a context is in use, chunks and then the end go through one
          // chain so they leave in order, and the upstream waits for each chunk (a paused stream holds at most one, §9.11).
          let chain = Promise.resolve();
          const resume = (): void => {
            if (this.#credit.isExhausted) this.#credit.whenAvailable(() => response.resume());
            else response.resume();
          };
          response.on(
            'data',
            this.#contained((chunk: Buffer) => {
              this.#bytes.received += chunk.length;
              if (deflate !== undefined) {
                response.pause();
                const send = (): Promise<void> | void => {
                  if (this.#controller.signal.aborted) return undefined; // the terminal reply may be out: nothing follows it
                  return this.#port.streamFrameId === undefined ? this.#sendChunk(chunk) : this.#sendDeflated(deflate, chunk);
                };
                chain = chain.then(send).then(resume, reject);
                return;
              }
              this.#sendChunk(chunk);
              if (this.#credit.isExhausted) {
                // Stop reading the upstream socket until the control-plane socket has taken what we sent.
                response.pause();
                this.#credit.whenAvailable(() => response.resume());
              }
            }),
          );
          response.on('error', (error: Error) => reject(new RelayFailure('upstream_error', `${failureLabel(isKube)}: ${error.message}`)));
          response.on('aborted', () => reject(new RelayFailure('upstream_error', `${failureLabel(isKube)}: response aborted`)));
          response.on('end', () => void chain.then(resolve));
        }),
      );
    } finally {
      deflate?.close();
    }
    this.#port.sendJson(OutboundType.proxyResponseEnd, {});
  }

  /** One upstream chunk as raw stream frames, or as `proxy_response_chunk` messages (§9.11), ≤ 256 KiB each. */
  #sendChunk(chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length; offset += MAX_CHUNK_BYTES) {
      const piece = chunk.subarray(offset, offset + MAX_CHUNK_BYTES);
      const frameId = this.#port.streamFrameId;
      const sent =
        frameId === undefined
          ? this.#port.sendJson(OutboundType.proxyResponseChunk, { data: piece.toString('base64'), encoding: 'base64', size: piece.length }, true)
          : this.#port.sendBinary(encodeStreamFrame(StreamFrameKind.chunk, frameId, piece), true);
      this.#credit.take(sent);
    }
  }

  async #sendDeflated(deflate: StreamDeflate, chunk: Buffer): Promise<void> {
    const { bytes, isStart } = await deflate.deflate(chunk);
    if (this.#controller.signal.aborted) return; // ended while compressing: its terminal reply may be out already
    const frameId = this.#port.streamFrameId;
    if (frameId === undefined) {
      // Stream frames ended while this chunk was compressed (yamux took over): it goes as JSON, raw.
      this.#sendChunk(chunk);
      return;
    }
    const kind = isStart ? StreamFrameKind.deflatedChunkStart : StreamFrameKind.deflatedChunk;
    this.#credit.take(this.#port.sendBinary(encodeStreamFrame(kind, frameId, bytes), true));
  }

  /** Races `promise` against cancellation, the deadline and body-intake failures. */
  #untilAborted<T>(promise: Promise<T>): Promise<T> {
    const signal = this.#controller.signal;
    if (signal.aborted) {
      promise.catch(() => undefined); // its later rejection must not go unobserved
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  #abortWith(error: Error): void {
    if (this.#controller.signal.aborted) return;
    this.#binaryWait?.abort(error);
    this.#controller.abort(error);
  }

  #cancel(reason: CancelReason): void {
    this.#cancelReason ??= reason;
    this.#abortWith(new RelayFailure('canceled', 'canceled'));
  }

  /** Sends the failure the protocol asks for in this state (§9.12) and returns it. */
  #report(error: unknown): RelayFailure {
    const failure = asRelayFailure(error);
    if (this.#cancelReason !== undefined) {
      // Buffered mode sends nothing more; a started stream ends with `canceled` (§9.13).
      if (this.#isStreaming && this.#isHeaderSent && this.#cancelReason === 'proxy_cancel') {
        this.#port.sendJson(OutboundType.proxyResponseAbort, { error: 'canceled' });
      }
      return failure.outcome === 'canceled' ? failure : new RelayFailure('canceled', 'canceled');
    }
    const isIntakeOrParse = failure.outcome === 'invalid';
    if (this.#isStreaming && (this.#isHeaderSent || !isIntakeOrParse)) {
      this.#port.sendJson(OutboundType.proxyResponseAbort, { error: failure.message });
    } else {
      this.#port.sendJson(OutboundType.proxyError, { error: failure.message });
    }
    return failure;
  }
}

/** The actor. `context` is given by the inline host; pool workers use their thread's. */
export default async function httpRelay(task: HttpRelayTask, context: ActorContext = workerActorContext()): Promise<void> {
  await new Relay(task, context).run();
}
