// Long-lived GETs (watches, `logs -f`) to the Kubernetes API over HTTP/2, as client-go sends them: each one a
// stream on a session this thread shares with the others, instead of one HTTP/1.1 request on its own TLS
// connection each (about 45 KiB of OpenSSL and socket state per connection against about 8 KiB per stream,
// docs/performance.md). The server's ALPN answer decides, once per upstream: when it does not select h2,
// every later call goes over HTTP/1.1 as before.
//
//   call ─► session with a free stream slot (peer's SETTINGS_MAX_CONCURRENT_STREAMS)? ─► stream
//            └─ none: one new TLS connection, ALPN [h2, http/1.1] ─► h2: session │ http/1.1: 'h1' from now on
//
// A stream is flow-controlled by HTTP/2 itself: a paused response stops acknowledging its stream's window
// (64 KiB), so a slow control plane holds at most that much per watch. A session that ends with an error or
// a GOAWAY beyond a stream's id ends that stream's response with an error (the relay's terminal reply); the
// other sessions' streams go on. Cancelling a call resets only its own stream (RST_STREAM CANCEL).

import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import tls from 'node:tls';
import { isIP, type LookupFunction } from 'node:net';
import { EventEmitter } from 'node:events';
import type { UpstreamCall, UpstreamTls } from './upstream.js';

/** HTTP/1.1 headers HTTP/2 forbids (RFC 9113 §8.2.2); Host becomes :authority. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);
/** Idle time before TCP keepalive probes on a session's socket: a vanished peer is noticed. */
const TCP_KEEPALIVE_DELAY_MS = 30_000;
/**
 * A session without streams for this long is closed: watches keep a session busy, so an idle one only
 * holds a TLS connection (58–70 KiB) and a socket on the API server. Short enough that an agent whose
 * watches ended is back to no API connection within a minute, as with HTTP/1.1 keep-alive.
 */
const IDLE_SESSION_MS = 15_000;
/** Streams assumed per session until the peer's SETTINGS arrive (RFC 9113 §6.5.2 recommends at least 100). */
const DEFAULT_STREAM_LIMIT = 100;
/** A connection whose TLS handshake has not finished by then fails the calls waiting for it. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Node bounds a session's nghttp2 memory (10 MB by default) and refuses new streams past it. */
const MAX_SESSION_MEMORY_MB = 64;

/** The response of one stream in the shape the relay reads from an IncomingMessage. */
export interface H2Response extends NodeJS.EventEmitter {
  readonly statusCode: number;
  readonly rawHeaders: string[];
  readonly stream: ClientHttp2Stream;
  pause(): void;
  resume(): void;
  destroy(): void;
}

export interface H2Call {
  readonly response: Promise<H2Response>;
  /** Resets this stream only (cancel, deadline). */
  destroy(): void;
}

interface SessionSlot {
  readonly session: ClientHttp2Session;
  active: number;
  isClosing: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

/** Why a call could not start; `message` is the transport's text, to be worded by the caller (§9.12). */
export class H2CallError extends Error {
  /**
   * No response came because the stream's session went away under it (GOAWAY, a connection error) or the
   * server refused the stream (REFUSED_STREAM): a GET may be sent again on another session.
   */
  readonly isRetryable: boolean;
  constructor(message: string, isRetryable = false) {
    super(message);
    this.isRetryable = isRetryable;
  }
}

export class H2Upstream {
  readonly #origin: URL;
  readonly #tls: UpstreamTls;
  readonly #lookup: LookupFunction | undefined;
  readonly #slots = new Set<SessionSlot>();
  /** Decided by the first connection's ALPN answer; kept for the upstream's life. */
  #protocol: 'unknown' | 'h2' | 'h1' = 'unknown';
  #connecting: Promise<SessionSlot | 'h1'> | undefined;
  #isClosed = false;

  constructor(origin: URL, trust: UpstreamTls, lookup?: LookupFunction) {
    this.#origin = origin;
    this.#tls = trust;
    this.#lookup = lookup;
  }

  /** Whether the server declined h2 (ALPN): the caller uses HTTP/1.1. */
  get isHttp1Only(): boolean {
    return this.#protocol === 'h1';
  }

  get sessionCount(): number {
    return this.#slots.size;
  }

  /** Starts a bodiless call; resolves `'h1'` when the server does not speak h2 (nothing was sent). */
  async start(call: UpstreamCall): Promise<H2Call | 'h1'> {
    const slot = await this.#slot();
    if (slot === 'h1') return 'h1';
    const headers: http2.OutgoingHttpHeaders = { ':method': call.method, ':path': call.target };
    for (const [name, values] of Object.entries(call.headers)) {
      const lower = name.toLowerCase();
      if (CONNECTION_HEADERS.has(lower) || lower.startsWith(':')) continue;
      headers[lower] = values.length === 1 ? values[0]! : [...values];
    }
    let stream: ClientHttp2Stream;
    try {
      stream = slot.session.request(headers, { endStream: true });
    } catch (error) {
      this.#release(slot);
      throw new H2CallError(error instanceof Error ? error.message : String(error));
    }
    stream.once('close', () => this.#release(slot));
    let isCancelled = false;
    const isRetryable = (): boolean =>
      !isCancelled && (slot.isClosing || slot.session.destroyed || slot.session.closed || stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM);
    return {
      response: responseOf(stream, isRetryable),
      destroy: () => {
        isCancelled = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  /** New calls use new sessions; calls in flight finish on theirs (CA rotation). */
  retire(): void {
    for (const slot of this.#slots) this.#retireSlot(slot);
  }

  close(): void {
    this.#isClosed = true;
    for (const slot of this.#slots) {
      clearTimeout(slot.idleTimer);
      slot.session.destroy();
    }
    this.#slots.clear();
  }

  /** A session with a free stream slot, the slot already taken; one connection is opened at a time. */
  async #slot(): Promise<SessionSlot | 'h1'> {
    for (;;) {
      if (this.#isClosed) throw new H2CallError('upstream closed');
      if (this.#protocol === 'h1') return 'h1';
      for (const slot of this.#slots) {
        if (slot.isClosing || slot.active >= streamLimit(slot.session)) continue;
        slot.active++;
        clearTimeout(slot.idleTimer);
        slot.idleTimer = undefined;
        slot.session.ref();
        return slot;
      }
      this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
      if ((await this.#connecting) === 'h1') return 'h1';
    }
  }

  #release(slot: SessionSlot): void {
    slot.active--;
    if (slot.active > 0 || slot.isClosing || !this.#slots.has(slot)) return;
    // An idle session, like the keep-alive agent's free sockets, does not keep the process alive.
    slot.session.unref();
    slot.idleTimer = setTimeout(() => this.#retireSlot(slot), IDLE_SESSION_MS);
    slot.idleTimer.unref();
  }

  #retireSlot(slot: SessionSlot): void {
    slot.isClosing = true;
    clearTimeout(slot.idleTimer);
    this.#slots.delete(slot);
    slot.session.close();
  }

  #connect(): Promise<SessionSlot | 'h1'> {
    const origin = this.#origin;
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    const servername = this.#tls.servername ?? (isIP(host) === 0 ? host : undefined);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port: origin.port === '' ? 443 : Number(origin.port),
        ALPNProtocols: ['h2', 'http/1.1'],
        rejectUnauthorized: this.#tls.rejectUnauthorized,
        minVersion: 'TLSv1.2',
        ...(servername === undefined ? {} : { servername }),
        ...(this.#tls.secureContext !== undefined ? { secureContext: this.#tls.secureContext } : this.#tls.ca === undefined ? {} : { ca: this.#tls.ca }),
        ...(this.#lookup === undefined ? {} : { lookup: this.#lookup }),
      });
      const socketOnError = (error: Error): void => reject(new H2CallError(error.message));
      socket.once('error', socketOnError);
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`TLS handshake timed out after ${CONNECT_TIMEOUT_MS} ms`)));
      socket.once('secureConnect', () => {
        socket.off('error', socketOnError);
        socket.setTimeout(0);
        if (socket.alpnProtocol !== 'h2') {
          this.#protocol = 'h1';
          socket.destroy();
          resolve('h1');
          return;
        }
        this.#protocol = 'h2';
        socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
        const session = http2.connect(origin, { createConnection: () => socket, maxSessionMemory: MAX_SESSION_MEMORY_MB });
        const slot: SessionSlot = { session, active: 0, isClosing: false, idleTimer: undefined };
        const forget = (): void => {
          slot.isClosing = true;
          clearTimeout(slot.idleTimer);
          this.#slots.delete(slot);
        };
        // The streams on it learn the error themselves; the session only leaves the pool. After a GOAWAY
        // the streams it still serves finish, then the session closes.
        session.on('error', forget);
        session.on('goaway', () => {
          forget();
          if (!session.closed) session.close();
        });
        session.on('close', forget);
        if (this.#isClosed) session.destroy();
        // Its SETTINGS (the stream limit) come first: no stream is placed on it before they are known.
        const sessionOnEarlyClose = (): void => reject(new H2CallError('HTTP/2 session closed before its settings arrived'));
        session.once('close', sessionOnEarlyClose);
        session.once('remoteSettings', () => {
          session.off('close', sessionOnEarlyClose);
          this.#slots.add(slot);
          resolve(slot);
        });
      });
    });
  }
}

function streamLimit(session: ClientHttp2Session): number {
  const limit = session.remoteSettings.maxConcurrentStreams;
  return limit === undefined ? DEFAULT_STREAM_LIMIT : limit;
}

/**
 * The stream's response head as an IncomingMessage-like object. A stream that closes before its end
 * without an error (the session went away) reports `aborted`, as an HTTP/1.1 response cut short does.
 */
function responseOf(stream: ClientHttp2Stream, isRetryable: () => boolean): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    let isSettled = false;
    stream.once('error', (error: Error) => {
      if (!isSettled) reject(new H2CallError(error.message, isRetryable()));
    });
    stream.once('close', () => {
      if (!isSettled) reject(new H2CallError(`stream closed before its response (code ${stream.rstCode ?? 0})`, isRetryable()));
    });
    stream.once('response', (headers: IncomingHttpHeaders & http2.IncomingHttpStatusHeader) => {
      isSettled = true;
      resolve(new StreamResponse(stream, headers));
    });
  });
}

class StreamResponse extends EventEmitter implements H2Response {
  readonly statusCode: number;
  readonly rawHeaders: string[];
  readonly stream: ClientHttp2Stream;
  #hasFailed = false;

  constructor(stream: ClientHttp2Stream, headers: IncomingHttpHeaders & http2.IncomingHttpStatusHeader) {
    super();
    this.stream = stream;
    this.statusCode = Number(headers[':status'] ?? 502);
    this.rawHeaders = [];
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) this.rawHeaders.push(name, String(one));
    }
    // Listeners are forwarded as they are added, so data flows only once the relay reads (as with IncomingMessage).
    stream.on('error', (error: Error) => {
      this.#hasFailed = true;
      this.emit('error', error);
    });
    stream.once('close', () => {
      if (!stream.readableEnded && !this.#hasFailed) this.emit('aborted');
    });
    stream.once('end', () => this.emit('end'));
  }

  override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
    if (event === 'data') this.stream.on('data', listener);
    else super.on(event, listener);
    return this;
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  destroy(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}
