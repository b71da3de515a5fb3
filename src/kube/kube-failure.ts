// How a failed Kubernetes call of the agent's own is told apart and logged.

import { AgentError, ErrorCode } from '../errors.js';

/**
 * The API server answered a call of the agent's own with a status outside 2xx. The message names the
 * status and the Status object's reason, never the response body or headers, which may echo object data.
 */
export class KubeStatusError extends AgentError {
  /** The HTTP status (404: absent, 409: conflict, 401/403: refused, 410: expired resourceVersion). */
  readonly statusCode: number;
  /** The Status object's `reason` (NotFound, AlreadyExists, Conflict, Expired…) when the body had one. */
  readonly reason: string | undefined;
  constructor(statusCode: number, reason?: string) {
    super(ErrorCode.upstreamFailed, `the Kubernetes API answered ${statusCode}${reason === undefined ? '' : ` ${reason}`}`);
    this.name = 'KubeStatusError';
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

/** True when the API server answered with `status` (404: absent, 409: conflict, 401/403: refused). */
export function isKubeStatus(error: unknown, status: number): boolean {
  return error instanceof KubeStatusError && error.statusCode === status;
}

/** A loggable summary of a failed Kubernetes call: the status, never the body or headers. */
export function kubeFailureOf(error: unknown): { code: string; status?: number; detail?: string } {
  if (error instanceof KubeStatusError) return { code: 'KUBE_STATUS', status: error.statusCode };
  // AgentError codes and system codes (ECONNREFUSED, CERT_HAS_EXPIRED…) say enough and carry no payload.
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return { code: error.code };
  // Client-side failures (bad kubeconfig, TLS setup) carry no response, so their text is safe and useful.
  if (error instanceof Error) return { code: error.name, detail: error.message.slice(0, 200) };
  return { code: 'unknown' };
}
