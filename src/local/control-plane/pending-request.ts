// One kubectl request waiting for its agent's answer: assembles the HTTP response from whichever form
// the agent uses (proxy_response, binary frame, streamed header/chunks/end, proxy_error), and turns a
// client hang-up into proxy_cancel. It never touches the agent socket directly.
//
//   waiting ──proxy_response / binary frame / proxy_error / timeout / agent gone──▶ done
//      └──proxy_response_header──▶ streaming ──chunk*──▶ end | abort | error ──▶ done

import type { ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { constants as zlibConstants, createInflateRaw, gunzip, type InflateRaw } from 'node:zlib';
import { StreamFrameKind } from '../../protocol/stream-frame.js';
import type { Envelope, JsonObject } from '../../protocol/envelope.js';
import type { ResponseFrame } from '../../protocol/binary-frame.js';
import { OutboundType } from '../../protocol/message-types.js';
import type { Logger } from '../../log.js';
import { writeKubeStatus } from './kube-status.js';
import { clientResponseHeaders, hasContentEncoding, type BodyLength } from './response-headers.js';

const gunzipAsync = promisify(gunzip);

/** The agent's answers to one request, named as the agent sends them (§8.2). */
export const AgentResponseType = {
  response: OutboundType.proxyResponse,
  error: OutboundType.proxyError,
  header: OutboundType.proxyResponseHeader,
  chunk: OutboundType.proxyResponseChunk,
  end: OutboundType.proxyResponseEnd,
  abort: OutboundType.proxyResponseAbort,
} as const;
export type AgentResponseType = (typeof AgentResponseType)[keyof typeof AgentResponseType];

const RESPONSE_TYPES: ReadonlySet<string> = new Set(Object.values(AgentResponseType));

export function isAgentResponseType(type: string): type is AgentResponseType {
  return RESPONSE_TYPES.has(type);
}

const State = { waiting: 'waiting', streaming: 'streaming', done: 'done' } as const;
type State = (typeof State)[keyof typeof State];

export interface PendingRequestOptions {
  readonly requestId: string;
  readonly method: string;
  readonly res: ServerResponse;
  /** Time to wait for the answer to complete, grace included. */
  readonly timeoutMs: number;
  /** Sends `proxy_cancel` for this request to the agent that carries it. */
  readonly sendCancel: () => void;
  /** Called once when the request is finished, however it ends. */
  readonly onDone: () => void;
  readonly logger: Logger;
}

const PENDING_BY_RESPONSE = new WeakMap<ServerResponse, PendingRequest>();

function responseOnClose(this: ServerResponse): void {
  PENDING_BY_RESPONSE.get(this)?.clientClosed();
}

function errorText(payload: JsonObject): string {
  const error = payload['error'];
  return typeof error === 'string' && error !== '' ? error : 'unknown error';
}

function isValidStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 999;
}

export class PendingRequest {
  readonly requestId: string;
  readonly #options: PendingRequestOptions;
  readonly #res: ServerResponse;
  readonly #timer: NodeJS.Timeout;
  #state: State = State.waiting;
  /** The stream's inflater (docs/protocol.md, binary stream frames): one raw-deflate context per stream. */
  #inflater: InflateRaw | undefined;
  /** Set once a deflated chunk arrived: from then on body writes and the end go through it in order. */
  #chain: Promise<void> | undefined;

  constructor(options: PendingRequestOptions) {
    this.requestId = options.requestId;
    this.#options = options;
    this.#res = options.res;
    PENDING_BY_RESPONSE.set(this.#res, this);
    this.#res.on('close', responseOnClose);
    this.#timer = setTimeout(() => this.#timedOut(), options.timeoutMs);
  }

  get isDone(): boolean {
    return this.#state === State.done;
  }

  /** Dispatches one JSON message the agent sent for this request id. */
  handleMessage(envelope: Envelope): void {
    const payload = envelope.payload;
    switch (envelope.type) {
      case AgentResponseType.response:
        if (this.#state === State.waiting) void this.#completeFromJson(payload);
        return;
      case AgentResponseType.error:
        this.fail(502, `agent: ${errorText(payload)}`);
        return;
      case AgentResponseType.header:
        this.#startStream(payload);
        return;
      case AgentResponseType.chunk:
        this.#writeChunk(payload);
        return;
      case AgentResponseType.end:
        this.#endStream();
        return;
      case AgentResponseType.abort:
        this.fail(502, `agent: ${errorText(payload)}`);
        return;
      default:
        return;
    }
  }

  /** A binary response frame (§10.2): the whole answer in one frame. */
  handleFrame(frame: ResponseFrame): void {
    if (this.#state !== State.waiting) return;
    // The agent gzips a frame body only when the upstream had no Content-Encoding (§11), so leading
    // 1f 8b bytes under an upstream Content-Encoding are the upstream's own and must reach kubectl as is.
    const isTransportGzip = frame.body.length >= 2 && frame.body[0] === 0x1f && frame.body[1] === 0x8b && !hasContentEncoding(frame.headers);
    void this.#completeBuffered(frame.status, frame.headers, frame.body, isTransportGzip);
  }

  /** A streamed-response chunk from a stream frame: raw, or the next bytes of the stream's deflate stream. */
  handleStreamChunk(kind: StreamFrameKind, payload: Buffer): void {
    if (this.#state !== State.streaming) {
      if (this.#state === State.waiting) this.fail(502, 'agent: stream frame before proxy_response_header');
      return;
    }
    if (kind === StreamFrameKind.chunk) this.#inOrder(() => this.#writeBody(payload));
    else if (kind === StreamFrameKind.deflatedChunk || kind === StreamFrameKind.deflatedChunkStart) {
      this.#inOrder(() => this.#inflate(payload, kind === StreamFrameKind.deflatedChunkStart));
    }
  }

  /** Ends the request with a Status body, or cuts the response if it already started. */
  fail(code: number, message: string): void {
    if (this.#state === State.done) return;
    this.#finish();
    writeKubeStatus(this.#res, code, message);
  }

  agentDisconnected(): void {
    this.fail(502, 'agent disconnected');
  }

  /** The kubectl side went away before the answer completed: the agent is told to stop. */
  clientClosed(): void {
    if (this.#state === State.done) return;
    this.#finish();
    this.#options.logger.debug({ requestId: this.requestId }, 'client closed before the response completed; cancelling');
    this.#options.sendCancel();
  }

  #timedOut(): void {
    if (this.#state === State.done) return;
    this.#options.sendCancel();
    this.fail(504, `agent did not answer within ${this.#options.timeoutMs} ms`);
  }

  #finish(): void {
    this.#state = State.done;
    this.#inflater?.close();
    this.#inflater = undefined;
    clearTimeout(this.#timer);
    this.#res.off('close', responseOnClose);
    PENDING_BY_RESPONSE.delete(this.#res);
    this.#options.onDone();
  }

  async #completeFromJson(payload: JsonObject): Promise<void> {
    const body = payload['body'];
    const encoding = payload['encoding'];
    let bytes: Uint8Array = new Uint8Array(0);
    let isGzip = false;
    if (typeof encoding === 'string' && encoding !== '') {
      if (encoding !== 'base64' && encoding !== 'gzip') {
        this.fail(502, `agent: invalid proxy_response encoding "${encoding}"`);
        return;
      }
      bytes = typeof body === 'string' ? Buffer.from(body, 'base64') : bytes;
      isGzip = encoding === 'gzip';
    }
    await this.#completeBuffered(payload['status'], payload['headers'], bytes, isGzip);
  }

  async #completeBuffered(status: unknown, headers: unknown, raw: Uint8Array, isGzip: boolean): Promise<void> {
    if (!isValidStatus(status)) {
      this.fail(502, `agent: invalid response status ${JSON.stringify(status)}`);
      return;
    }
    // Claim the request before any await, so a second answer or a timeout cannot interleave.
    this.#state = State.streaming;
    let body: Uint8Array = raw;
    if (isGzip) {
      try {
        body = await gunzipAsync(raw);
      } catch (error) {
        this.fail(502, `agent: invalid gzip response body (${error instanceof Error ? error.message : String(error)})`);
        return;
      }
    }
    if (this.#state !== State.streaming) return;
    const length: BodyLength = this.#hasNoBody(status) ? { kind: 'none' } : { kind: 'buffered', bytes: body.length };
    this.#finish();
    if (this.#res.destroyed || this.#res.headersSent) return;
    this.#res.writeHead(status, clientResponseHeaders(headers, length));
    this.#res.end(length.kind === 'none' ? undefined : body);
  }

  #startStream(payload: JsonObject): void {
    if (this.#state !== State.waiting) return;
    const status = payload['status'];
    if (!isValidStatus(status)) {
      this.fail(502, `agent: invalid response status ${JSON.stringify(status)}`);
      return;
    }
    if (this.#res.destroyed || this.#res.headersSent) {
      this.clientClosed();
      return;
    }
    this.#state = State.streaming;
    const length: BodyLength = this.#hasNoBody(status) ? { kind: 'none' } : { kind: 'streamed' };
    this.#res.writeHead(status, clientResponseHeaders(payload['headers'], length));
    // watches and `logs -f` need the status line before the first event
    this.#res.flushHeaders();
  }

  #writeChunk(payload: JsonObject): void {
    if (this.#state !== State.streaming) {
      if (this.#state === State.waiting) this.fail(502, 'agent: proxy_response_chunk before proxy_response_header');
      return;
    }
    const data = payload['data'];
    if (typeof data !== 'string' || data === '') return;
    const bytes = Buffer.from(data, 'base64');
    // `deflate`: a chunk of a deflated stream the agent moved back to JSON (the extension's switch to yamux)
    if (payload['encoding'] === 'deflate') this.#inOrder(() => this.#inflate(bytes, payload['deflate_start'] === true));
    else if (this.#chain !== undefined) this.#inOrder(() => this.#writeBody(bytes));
    else this.#writeBody(bytes);
  }

  #writeBody(bytes: Buffer): void {
    if (this.#state !== State.streaming || bytes.length === 0) return;
    try {
      this.#res.write(bytes);
    } catch (error) {
      // more bytes than the upstream Content-Length announced: the response cannot be completed correctly
      this.#options.logger.warn({ requestId: this.requestId, err: error }, 'streamed body does not fit its headers');
      this.fail(502, 'agent: streamed body does not match its headers');
      this.#options.sendCancel();
    }
  }

  /** Runs `step` after every earlier body step (inflating is asynchronous); a failed step ends the request. */
  #inOrder(step: () => Promise<void> | void): void {
    this.#chain = (this.#chain ?? Promise.resolve())
      .then(() => (this.#state === State.streaming ? step() : undefined))
      .catch((error: unknown) => {
        this.#options.logger.warn({ requestId: this.requestId, err: error }, 'undecodable deflated chunk');
        this.fail(502, 'agent: undecodable deflated chunk');
        this.#options.sendCancel();
      });
  }

  /** Inflates one deflated chunk with the stream's context and writes what it yields (it ends on a sync flush). */
  #inflate(bytes: Buffer, isStart: boolean): Promise<void> {
    if (isStart) {
      this.#inflater?.close();
      this.#inflater = undefined;
    }
    if (this.#inflater === undefined && !isStart) return Promise.reject(new Error('deflated chunk without a context'));
    const inflater = (this.#inflater ??= createInflateRaw());
    return new Promise<void>((resolve, reject) => {
      const output: Buffer[] = [];
      const onData = (chunk: Buffer): void => void output.push(chunk);
      const onError = (error: Error): void => {
        inflater.off('data', onData);
        reject(error);
      };
      inflater.on('data', onData);
      inflater.once('error', onError);
      inflater.write(bytes);
      inflater.flush(zlibConstants.Z_SYNC_FLUSH, () => {
        inflater.off('data', onData);
        inflater.off('error', onError);
        this.#writeBody(Buffer.concat(output));
        resolve();
      });
    });
  }

  #endStream(): void {
    if (this.#state !== State.streaming) {
      if (this.#state === State.waiting) this.fail(502, 'agent: proxy_response_end before proxy_response_header');
      return;
    }
    if (this.#chain !== undefined) {
      this.#inOrder(() => {
        this.#finish();
        this.#res.end();
      });
      return;
    }
    this.#finish();
    this.#res.end();
  }

  #hasNoBody(status: number): boolean {
    return this.#options.method === 'HEAD' || status === 204 || status === 304 || status < 200;
  }
}
