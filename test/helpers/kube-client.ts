// The agent's own KubeClient for tests: from kubeconfig text (the sandbox's), from a kubeconfig file, or
// for a plain-HTTP loopback API with a token. Each client's keep-alive sockets close at the test's end.

import type { ExecutionContext } from 'ava';
import { KubeClient } from '../../src/kube/kube-client.js';
import { KubeAccessSource, loadKubeAccess, parseKubeconfig, type KubeAccess } from '../../src/kube/kubeconfig.js';

type Teardown = Pick<ExecutionContext, 'teardown'> | undefined;

function closedAtEnd(t: Teardown, client: KubeClient): KubeClient {
  t?.teardown(() => client.close());
  return client;
}

export function kubeClientOf(kubeconfigYaml: string, t?: Teardown): KubeClient {
  return closedAtEnd(t, new KubeClient(parseKubeconfig(kubeconfigYaml, process.cwd()).access));
}

export async function kubeClientFromFile(path: string, t?: Teardown): Promise<KubeClient> {
  return closedAtEnd(t, new KubeClient(await loadKubeAccess(path)));
}

/** Kubeconfig-style access to `server` with a bearer token, trusting `ca` (or, without one, not verifying). */
export function kubeAccessOf(server: string, token: string, ca?: string): KubeAccess {
  return {
    source: KubeAccessSource.kubeconfig,
    server,
    caData: undefined,
    ca,
    caFile: undefined,
    rejectUnauthorized: ca !== undefined,
    tlsServerName: undefined,
    clientCert: undefined,
    clientKey: undefined,
    token,
    tokenFile: undefined,
    namespace: undefined,
  };
}

/** A client for `server` (http:// loopback fakes) that sends `token`. */
export function tokenKubeClient(server: string, token: string, t?: Teardown): KubeClient {
  return closedAtEnd(t, new KubeClient(kubeAccessOf(server, token)));
}
