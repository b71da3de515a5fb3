// The control plane's HTTP side (PROTOCOL.md §17): one bounded JSON call at a time under the API URL, with the
// agent token as Bearer, 30 s per attempt and an answer read up to a bound. The clients of §17.2 (ingress
// routes) and §17.3 (tunnel registry) each decide what a status means and whether to retry; this module owns
// the attempt, the retry waits (1 s·2^(n-1)·(1+u/4) on the injected clock) and close(). An attempt never
// rejects, and the token never leaves the Authorization header (not in logs, failures or URLs).

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { ConnectionTls } from './connection.js';

export const CONTROL_PLANE_CALL_TIMEOUT_MS = 30_000;
export const CONTROL_PLANE_MAX_ATTEMPTS = 3;
export const CONTROL_PLANE_RETRY_BASE_MS = 1_000;
/** Each retry wait is stretched by up to this fraction, so agents that failed together do not retry together. */
export const CONTROL_PLANE_RETRY_JITTER = 0.25;

const HTTP_SCHEME: Readonly<Record<string, string>> = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' };

/** Base = API URL without its trailing `/`, path kept, ws→http and wss→https (PROTOCOL.md §17). */
export function controlPlaneHttpBase(apiUrl: string): string {
  const url = new URL(apiUrl);
  const scheme = HTTP_SCHEME[url.protocol];
  if (scheme === undefined) throw new TypeError(`unsupported URL scheme "${url.protocol}" (use http, https, ws or wss)`);
  return `${scheme}//${url.host}${url.pathname}`.replace(/\/+$/, '');
}

/** 408, 429 and 5xx are worth another attempt; any other refusal will be refused again. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** One attempt's result: the status and the JSON answer (undefined when empty, unparsable or over the bound), or why there was none. */
export type HttpAttempt = { readonly status: number; readonly body: unknown } | { readonly failure: string };

export interface ControlPlaneHttpOptions {
  /** The configured control-plane URL (http, https, ws or wss). */
  readonly apiUrl: string;
  /** Read at every attempt, so a rotated token file applies to the next call. */
  readonly token: () => string;
  readonly tls: ConnectionTls;
  /** Retry waits. */
  readonly clock: Clock;
  /** The 30 s bound on each attempt: real time in the agent, so a simulated clock never aborts real I/O. */
  readonly callClock: Clock;
  readonly random?: (() => number) | undefined;
  /** A larger answer is not read further: its body counts as absent and the status decides. */
  readonly maxAnswerBytes: number;
}

/** What a §17 client is built with: the call settings (the client picks its answer bound) and a logger for its own lines. */
export interface ControlPlaneClientOptions extends Omit<ControlPlaneHttpOptions, 'maxAnswerBytes'> {
  readonly logger: Logger;
}

export class ControlPlaneHttp {
  readonly #options: ControlPlaneHttpOptions;
  readonly #base: string;
  readonly #random: () => number;
  readonly #inFlight = new Set<AbortController>();
  readonly #waits = new Map<TimerHandle, () => void>();
  #isClosed = false;

  constructor(options: ControlPlaneHttpOptions) {
    this.#options = options;
    this.#base = controlPlaneHttpBase(options.apiUrl);
    this.#random = options.random ?? Math.random;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Aborts attempts in flight and ends retry waits at once. */
  close(): void {
    this.#isClosed = true;
    for (const controller of this.#inFlight) controller.abort();
    for (const [timer, release] of this.#waits) {
      timer.cancel();
      release();
    }
    this.#waits.clear();
  }

  /** How long to wait after failed attempt `attempt` (1-based) before the next one. */
  retryWaitMs(attempt: number): number {
    return CONTROL_PLANE_RETRY_BASE_MS * 2 ** (attempt - 1) * (1 + this.#random() * CONTROL_PLANE_RETRY_JITTER);
  }

  /** Resolves after `ms` on the retry clock, or at once when close() is called. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.#options.clock.setTimer(ms, () => {
        this.#waits.delete(timer);
        resolve();
      });
      this.#waits.set(timer, resolve);
    });
  }

  /** One request to `<base><path>`; `payload` is a JSON text sent as the body, or undefined for none. */
  attempt(method: string, path: string, payload: string | undefined): Promise<HttpAttempt> {
    let token: string;
    try {
      token = this.#options.token();
    } catch {
      return Promise.resolve({ failure: 'agent token unavailable' });
    }
    const url = new URL(`${this.#base}${path}`);
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const { tls, maxAnswerBytes } = this.#options;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<HttpAttempt>((resolve) => {
      let isSettled = false;
      const settle = (attempt: HttpAttempt): void => {
        if (isSettled) return;
        isSettled = true;
        timer.cancel();
        this.#inFlight.delete(controller);
        resolve(attempt);
      };
      const timer = this.#options.callClock.setTimer(CONTROL_PLANE_CALL_TIMEOUT_MS, () => {
        settle({ failure: `timed out after ${CONTROL_PLANE_CALL_TIMEOUT_MS} ms` });
        controller.abort();
      });
      const headers: Record<string, string | number> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
      if (payload !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = Buffer.byteLength(payload);
      }
      const request = send(url, {
        method,
        signal: controller.signal,
        headers,
        ...(url.protocol === 'https:' ? { rejectUnauthorized: tls.rejectUnauthorized, ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
      });
      function requestOnResponse(response: IncomingMessage): void {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let readBytes = 0;
        function responseOnData(chunk: Buffer): void {
          readBytes += chunk.length;
          if (readBytes > maxAnswerBytes) {
            chunks.length = 0;
            response.destroy();
            return;
          }
          chunks.push(chunk);
        }
        // The status line is the answer; how the body ends (or breaks off) only decides whether it is kept.
        function responseOnDone(): void {
          let body: unknown;
          try {
            body = chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          settle({ status, body });
        }
        response.on('data', responseOnData);
        response.on('end', responseOnDone);
        response.on('close', responseOnDone);
        response.on('error', responseOnDone);
      }
      function requestOnError(error: Error): void {
        // System codes (ECONNREFUSED, CERT_HAS_EXPIRED…) say what went wrong without echoing anything sent.
        settle({ failure: 'code' in error && typeof error.code === 'string' ? error.code : error.name });
      }
      request.on('response', requestOnResponse);
      request.on('error', requestOnError);
      request.end(payload);
    });
  }
}
