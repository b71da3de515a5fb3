// The control plane's ingress route endpoints (PROTOCOL.md §17.2): POST with the agent token, JSON body,
// 30 s per attempt, success = 200; up to 3 attempts, 1 s then 2 s apart (each +0–25 % jitter). Calls never
// reject: a call that gives up resolves false and the caller retries at its next sync.
//
//   call ─► attempt ─200─► true
//             │ network error, timeout, 408, 429, 5xx ─► wait 1 s·2^(n-1)·(1+u/4) on clock ─► attempt (n ≤ 3)
//             └ other status, or 3 attempts spent, or closed ─► false

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { ConnectionTls } from '../../link/connection.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { RegisterRouteBody, SyncRoutesBody } from './gateway-route-bodies.js';

export const ROUTES_CALL_TIMEOUT_MS = 30_000;
export const ROUTES_MAX_ATTEMPTS = 3;
export const ROUTES_RETRY_BASE_MS = 1_000;
/** Each retry wait is stretched by up to this fraction, so agents that failed together do not retry together. */
export const ROUTES_RETRY_JITTER = 0.25;
/** Answers are tiny; a larger one is not read further (the status decides). */
const MAX_ANSWER_BYTES = 64 * 1024;

export const RoutesCall = { register: 'register', unregister: 'unregister', sync: 'sync' } as const;
export type RoutesCall = (typeof RoutesCall)[keyof typeof RoutesCall];

/** What the ingress sync needs from the control plane; every call resolves true on success. */
export interface RoutesClient {
  register(body: RegisterRouteBody): Promise<boolean>;
  unregister(hostname: string): Promise<boolean>;
  sync(body: SyncRoutesBody): Promise<boolean>;
  /** Aborts calls in flight and retry waits; later calls resolve false at once. */
  close(): void;
}

export interface GatewayRoutesClientOptions {
  /** The configured control-plane URL (http, https, ws or wss). */
  readonly apiUrl: string;
  /** Read at every attempt, so a rotated token file applies to the next call. */
  readonly token: () => string;
  readonly tls: ConnectionTls;
  /** Retry waits. */
  readonly clock: Clock;
  /** The 30 s bound on each attempt: real time in the agent, so a simulated clock never aborts real I/O. */
  readonly callClock: Clock;
  readonly random?: () => number;
  readonly logger: Logger;
}

const HTTP_SCHEME: Readonly<Record<string, string>> = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' };

/** Base = API URL without its trailing `/`, path kept, ws→http and wss→https (PROTOCOL.md §17). */
export function routesBaseUrl(apiUrl: string): string {
  const url = new URL(apiUrl);
  const scheme = HTTP_SCHEME[url.protocol];
  if (scheme === undefined) throw new TypeError(`unsupported URL scheme "${url.protocol}" (use http, https, ws or wss)`);
  return `${scheme}//${url.host}${url.pathname}`.replace(/\/+$/, '');
}

/** 408, 429 and 5xx are worth another attempt; any other refusal will be refused again. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

type Attempt = { readonly status: number } | { readonly failure: string };

export class GatewayRoutesClient implements RoutesClient {
  readonly #options: GatewayRoutesClientOptions;
  readonly #base: string;
  readonly #random: () => number;
  readonly #inFlight = new Set<AbortController>();
  readonly #waits = new Map<TimerHandle, () => void>();
  #isClosed = false;

  constructor(options: GatewayRoutesClientOptions) {
    this.#options = options;
    this.#base = routesBaseUrl(options.apiUrl);
    this.#random = options.random ?? Math.random;
  }

  register(body: RegisterRouteBody): Promise<boolean> {
    return this.#call(RoutesCall.register, body, { hostname: body.hostname, path: body.path });
  }

  unregister(hostname: string): Promise<boolean> {
    return this.#call(RoutesCall.unregister, { hostname }, { hostname });
  }

  sync(body: SyncRoutesBody): Promise<boolean> {
    return this.#call(RoutesCall.sync, body, { ingresses: body.ingresses.length, routingMode: body.routing_mode });
  }

  close(): void {
    this.#isClosed = true;
    for (const controller of this.#inFlight) controller.abort();
    for (const [timer, release] of this.#waits) {
      timer.cancel();
      release();
    }
    this.#waits.clear();
  }

  async #call(call: RoutesCall, body: object, context: Record<string, unknown>): Promise<boolean> {
    const payload = JSON.stringify(body);
    for (let attempt = 1; !this.#isClosed; attempt++) {
      const outcome = await this.#attempt(call, payload);
      if ('status' in outcome && outcome.status === 200) {
        this.#options.logger.debug({ call, attempt, ...context }, 'gateway route call accepted');
        return true;
      }
      const detail = 'status' in outcome ? { status: outcome.status } : { failure: outcome.failure };
      const isRetryable = 'failure' in outcome || isRetryableStatus(outcome.status);
      if (!isRetryable || attempt >= ROUTES_MAX_ATTEMPTS || this.#isClosed) {
        // Once per call, not per attempt: the caller's next sync retries, and a dead control plane must not flood the log.
        if (!this.#isClosed) this.#options.logger.warn({ call, attempts: attempt, ...detail, ...context }, 'gateway route call failed');
        return false;
      }
      const waitMs = ROUTES_RETRY_BASE_MS * 2 ** (attempt - 1) * (1 + this.#random() * ROUTES_RETRY_JITTER);
      this.#options.logger.debug({ call, attempt, waitMs: Math.round(waitMs), ...detail }, 'gateway route call will be retried');
      await this.#wait(waitMs);
    }
    return false;
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.#options.clock.setTimer(ms, () => {
        this.#waits.delete(timer);
        resolve();
      });
      this.#waits.set(timer, resolve);
    });
  }

  #attempt(call: RoutesCall, payload: string): Promise<Attempt> {
    let token: string;
    try {
      token = this.#options.token();
    } catch {
      return Promise.resolve({ failure: 'agent token unavailable' });
    }
    const url = new URL(`${this.#base}/api/v1/gateway/routes/${call}`);
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const tls = this.#options.tls;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Attempt>((resolve) => {
      let isSettled = false;
      const settle = (attempt: Attempt): void => {
        if (isSettled) return;
        isSettled = true;
        timer.cancel();
        this.#inFlight.delete(controller);
        resolve(attempt);
      };
      const timer = this.#options.callClock.setTimer(ROUTES_CALL_TIMEOUT_MS, () => {
        settle({ failure: `timed out after ${ROUTES_CALL_TIMEOUT_MS} ms` });
        controller.abort();
      });
      const request = send(url, {
        method: 'POST',
        signal: controller.signal,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'Content-Length': Buffer.byteLength(payload),
        },
        ...(url.protocol === 'https:' ? { rejectUnauthorized: tls.rejectUnauthorized, ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
      });
      function requestOnResponse(response: IncomingMessage): void {
        const status = response.statusCode ?? 0;
        let readBytes = 0;
        // The body is drained (so the socket can be reused) but never kept: the status is the answer.
        function responseOnData(chunk: Buffer): void {
          readBytes += chunk.length;
          if (readBytes > MAX_ANSWER_BYTES) response.destroy();
        }
        // The status line decides; how the body ends (or breaks off) does not change the answer.
        function responseOnDone(): void {
          settle({ status });
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
