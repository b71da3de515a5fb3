// The control plane's ingress route endpoints (PROTOCOL.md §17.2): POST with the agent token, JSON body,
// 30 s per attempt, success = 200; up to 3 attempts, 1 s then 2 s apart (each +0–25 % jitter). Calls never
// reject: a call that gives up resolves false and the caller retries at its next sync.
//
//   call ─► attempt ─200─► true
//             │ network error, timeout, 408, 429, 5xx ─► wait 1 s·2^(n-1)·(1+u/4) on clock ─► attempt (n ≤ 3)
//             └ other status, or 3 attempts spent, or closed ─► false

import type { Logger } from 'pino';
import { CONTROL_PLANE_MAX_ATTEMPTS, ControlPlaneHttp, isRetryableStatus, type ControlPlaneClientOptions } from '../../link/control-plane-http.js';
import type { RegisterRouteBody, SyncRoutesBody } from './gateway-route-bodies.js';

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

export type GatewayRoutesClientOptions = ControlPlaneClientOptions;

export class GatewayRoutesClient implements RoutesClient {
  readonly #logger: Logger;
  readonly #http: ControlPlaneHttp;

  constructor(options: GatewayRoutesClientOptions) {
    this.#logger = options.logger;
    this.#http = new ControlPlaneHttp({ ...options, maxAnswerBytes: MAX_ANSWER_BYTES });
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
    this.#http.close();
  }

  async #call(call: RoutesCall, body: object, context: Record<string, unknown>): Promise<boolean> {
    const payload = JSON.stringify(body);
    for (let attempt = 1; !this.#http.isClosed; attempt++) {
      const outcome = await this.#http.attempt('POST', `/api/v1/gateway/routes/${call}`, payload);
      if ('status' in outcome && outcome.status === 200) {
        this.#logger.debug({ call, attempt, ...context }, 'gateway route call accepted');
        return true;
      }
      const detail = 'status' in outcome ? { status: outcome.status } : { failure: outcome.failure };
      const isRetryable = 'failure' in outcome || isRetryableStatus(outcome.status);
      if (!isRetryable || attempt >= CONTROL_PLANE_MAX_ATTEMPTS || this.#http.isClosed) {
        // Once per call, not per attempt: the caller's next sync retries, and a dead control plane must not flood the log.
        if (!this.#http.isClosed) this.#logger.warn({ call, attempts: attempt, ...detail, ...context }, 'gateway route call failed');
        return false;
      }
      const waitMs = this.#http.retryWaitMs(attempt);
      this.#logger.debug({ call, attempt, waitMs: Math.round(waitMs), ...detail }, 'gateway route call will be retried');
      await this.#http.wait(waitMs);
    }
    return false;
  }
}
