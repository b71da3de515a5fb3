// Where the Kubernetes API is and how to trust it, from @kubernetes/client-node: the in-cluster service
// account or a kubeconfig file. Thread-neutral: every actor thread builds its own once. The identity used
// for proxied requests is the control plane's, so this module hands out trust, never credentials; the
// agent's own token is read separately for the agent's own calls.

import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeTarget } from './kube-target.js';

export interface KubeEndpoint {
  readonly server: URL;
  /** PEM bundle to trust; undefined means the system store. */
  readonly ca: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly tlsServerName: string | undefined;
}

export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (kubeconfigPath === undefined) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromFile(kubeconfigPath);
  return kubeConfig;
}

export function kubeEndpointOf(kubeConfig: KubeConfig): KubeEndpoint {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  let ca: string | undefined;
  if (cluster.caData !== undefined && cluster.caData !== '') ca = Buffer.from(cluster.caData, 'base64').toString('utf8');
  else if (cluster.caFile !== undefined && cluster.caFile !== '') ca = readFileSync(cluster.caFile, 'utf8');
  return {
    server: new URL(cluster.server),
    ca,
    rejectUnauthorized: !cluster.skipTLSVerify,
    tlsServerName: cluster.tlsServerName,
  };
}

/** The bearer token of the kubeconfig's current user, or the service-account token in a pod. */
export function kubeUserToken(kubeConfig: KubeConfig): string | undefined {
  const user = kubeConfig.getCurrentUser();
  const token = user?.token;
  if (token !== undefined && token !== '') return token;
  return undefined;
}

/** Where a pod's (projected, rotating) service-account token is mounted; read at every use. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Resolves the plain KubeTarget the actor threads use (see kube-target.ts). */
export function resolveKubeTarget(kubeConfig: KubeConfig): KubeTarget {
  const endpoint = kubeEndpointOf(kubeConfig);
  const cluster = kubeConfig.getCurrentCluster();
  const caFile = cluster?.caData === undefined || cluster.caData === '' ? cluster?.caFile : undefined;
  const token = kubeUserToken(kubeConfig);
  let tokenFile: string | undefined;
  if (token === undefined) {
    try {
      readFileSync(SERVICE_ACCOUNT_TOKEN_FILE);
      tokenFile = SERVICE_ACCOUNT_TOKEN_FILE;
    } catch {
      tokenFile = undefined;
    }
  }
  return {
    server: endpoint.server.origin,
    ca: endpoint.ca,
    caFile: caFile === '' ? undefined : caFile,
    rejectUnauthorized: endpoint.rejectUnauthorized,
    tlsServerName: endpoint.tlsServerName,
    agentToken: token,
    agentTokenFile: tokenFile,
  };
}
