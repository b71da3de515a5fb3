// The one place the main thread may load @kubernetes/client-node, and only through kubeconfig.ts's dynamic
// import: for kubeconfig users whose credentials come from code (exec credential plugins, auth-provider)
// or that kubeconfig.ts does not read (basic auth, impersonation). client-node then computes every
// request's credentials, so expiring exec tokens are refreshed as they are with the full client.

import type { KubeAccess, KubeRequestAuth } from './kubeconfig.js';
import { KubeAccessSource } from './kubeconfig.js';

/** The request options client-node fills in; only the credential parts are taken. */
interface AppliedOptions {
  headers?: Record<string, unknown>;
  auth?: string;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export async function fullClientAccess(kubeconfigPath: string, parsed: KubeAccess): Promise<KubeAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  return {
    ...parsed,
    source: KubeAccessSource.fullClient,
    server: cluster.server.replace(/\/$/, ''),
    token: undefined,
    tokenFile: undefined,
    authorize: async (auth: KubeRequestAuth) => {
      const applied: AppliedOptions = {};
      await kubeConfig.applyToHTTPSOptions(applied as never);
      for (const [name, value] of Object.entries(applied.headers ?? {})) {
        if (typeof value === 'string' || typeof value === 'number') auth.headers[name] = String(value);
      }
      if (applied.auth !== undefined) auth.headers['Authorization'] = `Basic ${Buffer.from(applied.auth).toString('base64')}`;
      if (applied.cert !== undefined) auth.cert = applied.cert;
      if (applied.key !== undefined) auth.key = applied.key;
    },
  };
}
