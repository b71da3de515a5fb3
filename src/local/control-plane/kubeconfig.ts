// The kubeconfig that points kubectl at one cluster behind the local control plane. It carries no
// credentials: the control plane injects the cluster token into every proxied request.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

/**
 * Over https, kubectl prompts for a username on stdin when the user entry can identify no one (client-go
 * `canIdentifyUser`); a bare username stops that. It is no credential: the control plane replaces any
 * client Authorization with the cluster token.
 */
export const TLS_PLACEHOLDER_USERNAME = 'local-control-plane';

export interface KubeconfigSpec {
  /** Cluster, context and user name in the file. */
  readonly name: string;
  /** `http(s)://127.0.0.1:PORT/clusters/<name>`. */
  readonly server: string;
  /** PEM of the CA that signed the control plane's certificate; omitted for plain http. */
  readonly caPem: string | undefined;
}

export function kubeconfigYaml(spec: KubeconfigSpec): string {
  const cluster: Record<string, string> = { server: spec.server };
  if (spec.caPem !== undefined) cluster['certificate-authority-data'] = Buffer.from(spec.caPem, 'utf8').toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: spec.name, cluster }],
    contexts: [{ name: spec.name, context: { cluster: spec.name, user: spec.name } }],
    'current-context': spec.name,
    users: [{ name: spec.name, user: spec.caPem === undefined ? {} : { username: TLS_PLACEHOLDER_USERNAME } }],
    preferences: {},
  });
}

/** Writes the file (owner-only, like kubectl's own) and creates its directory when missing. */
export async function writeKubeconfigFile(path: string, spec: KubeconfigSpec): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, kubeconfigYaml(spec), { mode: 0o600 });
}
