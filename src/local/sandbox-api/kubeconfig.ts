// The kubeconfig that points kubectl at the sandbox: one cluster (CA data + server), one token user and
// the current context "sandbox".

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const SANDBOX_CONTEXT = 'sandbox';

export interface KubeconfigParts {
  readonly server: string;
  readonly caPem: string;
  readonly token: string;
}

export function sandboxKubeconfig(parts: KubeconfigParts): string {
  const caData = Buffer.from(parts.caPem, 'utf8').toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${caData}`,
    `    server: ${parts.server}`,
    `  name: ${SANDBOX_CONTEXT}`,
    'contexts:',
    '- context:',
    `    cluster: ${SANDBOX_CONTEXT}`,
    `    user: ${SANDBOX_CONTEXT}`,
    `  name: ${SANDBOX_CONTEXT}`,
    `current-context: ${SANDBOX_CONTEXT}`,
    'preferences: {}',
    'users:',
    `- name: ${SANDBOX_CONTEXT}`,
    '  user:',
    `    token: ${parts.token}`,
    '',
  ].join('\n');
}

/** Writes the kubeconfig (mode 0600, it holds the token), creating its directory. */
export async function writeKubeconfigFile(path: string, yaml: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, yaml, { mode: 0o600 });
}
