// The control plane's tunnel registry (PROTOCOL.md §17.3): register, sync, list and delete under
// `<base>/api/v1/clusters/agent/<cluster_uuid>/tunnels`, with the agent token as Bearer, JSON bodies and
// 30 s per attempt. Up to 3 attempts for network errors, timeouts, 408, 429 and 5xx (1 s then 2 s apart,
// +0–25 % jitter); any other status is the platform's answer. Calls never reject; the token never leaves
// the Authorization header (not in logs, errors or URLs).
//
//   call ─► attempt ─2xx─► ok (body read, at most 1 MiB)
//             │ network error, timeout, 408, 429, 5xx ─► wait ─► attempt (n ≤ 3) ─► failed
//             ├ 401, 403 ─► failed (the agent is refused, not the tunnel; the next sync retries)
//             └ other status ─► rejected (400, 409, 422 …; a DELETE answered 404 counts as ok: already gone)

import type { Logger } from 'pino';
import { CONTROL_PLANE_MAX_ATTEMPTS, ControlPlaneHttp, isRetryableStatus, type ControlPlaneClientOptions } from '../../link/control-plane-http.js';
import type { TunnelRegistrationBody } from './tunnel-entry.js';

/** A sync answer lists every tunnel; a few hundred bytes each. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export const RegistryCall = { register: 'register', sync: 'sync', list: 'list', delete: 'delete' } as const;
export type RegistryCall = (typeof RegistryCall)[keyof typeof RegistryCall];

export const RegistryOutcome = { ok: 'ok', rejected: 'rejected', failed: 'failed' } as const;
export type RegistryOutcome = (typeof RegistryOutcome)[keyof typeof RegistryOutcome];

export type RegistryAnswer =
  | { readonly outcome: typeof RegistryOutcome.ok; readonly status: number; readonly body: unknown }
  | { readonly outcome: typeof RegistryOutcome.rejected; readonly status: number; readonly reason: string }
  | { readonly outcome: typeof RegistryOutcome.failed; readonly failure: string };

export interface SyncAnswer {
  /** Ids the platform listed as accepted; undefined when the answer had no `accepted` list. */
  readonly accepted: readonly string[] | undefined;
  readonly rejected: readonly { readonly tunnelId: string; readonly reason: string }[];
}

/** What the tunnel sync needs from the control plane. */
export interface TunnelRegistryClient {
  register(clusterUuid: string, body: TunnelRegistrationBody): Promise<RegistryAnswer>;
  sync(clusterUuid: string, tunnels: readonly TunnelRegistrationBody[]): Promise<RegistryAnswer>;
  remove(clusterUuid: string, tunnelId: string): Promise<RegistryAnswer>;
  /** Aborts calls in flight and retry waits; later calls fail at once. */
  close(): void;
}

export type HttpTunnelRegistryClientOptions = ControlPlaneClientOptions;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The reason a refusal gives (`error`, `message` or `reason`), cut short; the platform never echoes the token. */
function reasonOf(body: unknown, status: number): string {
  if (isObject(body)) {
    for (const key of ['error', 'message', 'reason']) {
      const value = body[key];
      if (typeof value === 'string' && value !== '') return value.slice(0, 200);
    }
  }
  return `status ${status}`;
}

/** Reads a §17.3 sync answer: `{accepted:[…], rejected:[{tunnel_id, reason}]}`, possibly inside `data`. */
export function syncAnswerOf(body: unknown): SyncAnswer {
  const root = isObject(body) && isObject(body['data']) ? body['data'] : body;
  if (!isObject(root)) return { accepted: undefined, rejected: [] };
  const idOf = (item: unknown): string | undefined => {
    if (typeof item === 'string') return item;
    return isObject(item) && typeof item['tunnel_id'] === 'string' ? item['tunnel_id'] : undefined;
  };
  const acceptedRaw = root['accepted'];
  const accepted = Array.isArray(acceptedRaw) ? acceptedRaw.flatMap((item) => idOf(item) ?? []) : undefined;
  const rejectedRaw = Array.isArray(root['rejected']) ? root['rejected'] : [];
  const rejected = rejectedRaw.flatMap((item) => {
    const tunnelId = idOf(item);
    if (tunnelId === undefined) return [];
    const reason = isObject(item) && typeof item['reason'] === 'string' ? item['reason'].slice(0, 200) : 'no reason given';
    return [{ tunnelId, reason }];
  });
  return { accepted, rejected };
}

export class HttpTunnelRegistryClient implements TunnelRegistryClient {
  readonly #logger: Logger;
  readonly #http: ControlPlaneHttp;

  constructor(options: HttpTunnelRegistryClientOptions) {
    this.#logger = options.logger;
    this.#http = new ControlPlaneHttp({ ...options, maxAnswerBytes: MAX_ANSWER_BYTES });
  }

  register(clusterUuid: string, body: TunnelRegistrationBody): Promise<RegistryAnswer> {
    return this.#call(RegistryCall.register, 'POST', this.#path(clusterUuid), body);
  }

  sync(clusterUuid: string, tunnels: readonly TunnelRegistrationBody[]): Promise<RegistryAnswer> {
    return this.#call(RegistryCall.sync, 'POST', `${this.#path(clusterUuid)}/sync`, { cluster_uuid: clusterUuid, tunnels });
  }

  remove(clusterUuid: string, tunnelId: string): Promise<RegistryAnswer> {
    return this.#call(RegistryCall.delete, 'DELETE', `${this.#path(clusterUuid)}/${encodeURIComponent(tunnelId)}`, undefined);
  }

  close(): void {
    this.#http.close();
  }

  #path(clusterUuid: string): string {
    return `/api/v1/clusters/agent/${encodeURIComponent(clusterUuid)}/tunnels`;
  }

  async #call(call: RegistryCall, method: string, path: string, body: object | undefined): Promise<RegistryAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      if (this.#http.isClosed) return { outcome: RegistryOutcome.failed, failure: 'closed' };
      const result = await this.#http.attempt(method, path, payload);
      if ('status' in result && result.status >= 200 && result.status < 300) return { outcome: RegistryOutcome.ok, status: result.status, body: result.body };
      if ('status' in result && call === RegistryCall.delete && result.status === 404) return { outcome: RegistryOutcome.ok, status: 404, body: result.body };
      // 401/403 refuse the agent, not the tunnel: a failure the next sync retries, never counted as a rejection.
      if ('status' in result && (result.status === 401 || result.status === 403)) return { outcome: RegistryOutcome.failed, failure: `status ${result.status}` };
      if ('status' in result && !isRetryableStatus(result.status)) {
        return { outcome: RegistryOutcome.rejected, status: result.status, reason: reasonOf(result.body, result.status) };
      }
      const detail = 'status' in result ? { status: result.status } : { failure: result.failure };
      if (attempt >= CONTROL_PLANE_MAX_ATTEMPTS || this.#http.isClosed) {
        return { outcome: RegistryOutcome.failed, failure: 'status' in result ? `status ${result.status}` : result.failure };
      }
      const waitMs = this.#http.retryWaitMs(attempt);
      this.#logger.debug({ call, attempt, waitMs: Math.round(waitMs), ...detail }, 'tunnel registry call will be retried');
      await this.#http.wait(waitMs);
    }
  }
}
