// How a failed Kubernetes call of the agent's own is told apart and logged.

import { ApiException } from '@kubernetes/client-node';

/** True when the API server answered with `status` (404: absent, 409: conflict, 401/403: refused). */
export function isKubeStatus(error: unknown, status: number): boolean {
  return error instanceof ApiException && error.code === status;
}

/** A loggable summary of a failed Kubernetes call: never ApiException.message, which embeds the body and headers. */
export function kubeFailureOf(error: unknown): { code: string; status?: number; detail?: string } {
  if (error instanceof ApiException) return { code: 'KUBE_STATUS', status: error.code };
  // AgentError codes and system codes (ECONNREFUSED, CERT_HAS_EXPIRED…) say enough and carry no payload.
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return { code: error.code };
  // Client-side failures (bad kubeconfig, TLS setup) carry no response, so their text is safe and useful.
  if (error instanceof Error) return { code: error.name, detail: error.message.slice(0, 200) };
  return { code: 'unknown' };
}
