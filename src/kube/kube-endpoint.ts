// What the actor threads need of the agent's Kubernetes access (kubeconfig.ts), as plain data: where the
// API is and how to trust it. The identity used for proxied requests is the control plane's, so this hands
// out trust, plus the agent's own token only for the sessions that arrive without one (§13.4).

import { readFileSync } from 'node:fs';
import { currentToken, SERVICE_ACCOUNT_TOKEN_FILE, type KubeAccess } from './kubeconfig.js';
import type { KubeTarget } from './kube-target.js';

export { SERVICE_ACCOUNT_TOKEN_FILE } from './kubeconfig.js';

/** The bearer token of the kubeconfig's current user (its token file re-read), or the pod's service-account token. */
export function kubeUserToken(access: KubeAccess): string | undefined {
  return currentToken(access);
}

/** Resolves the plain KubeTarget the actor threads use (see kube-target.ts). */
export function resolveKubeTarget(access: KubeAccess): KubeTarget {
  let tokenFile = access.token === undefined ? access.tokenFile : undefined;
  if (access.token === undefined && tokenFile === undefined) {
    try {
      readFileSync(SERVICE_ACCOUNT_TOKEN_FILE);
      tokenFile = SERVICE_ACCOUNT_TOKEN_FILE;
    } catch {
      tokenFile = undefined;
    }
  }
  return {
    server: new URL(access.server).origin,
    ca: access.ca,
    caFile: access.caFile,
    rejectUnauthorized: access.rejectUnauthorized,
    tlsServerName: access.tlsServerName,
    agentToken: access.token,
    agentTokenFile: tokenFile,
  };
}
