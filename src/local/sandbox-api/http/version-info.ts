// The /version document of the sandbox: kube-apiserver's version.Info shape for a configurable minor,
// which is also what makes the kubectl dispatcher pick the matching kubectl.

import type { JsonObject } from '../store/json-value.js';

export function gitVersionOf(minorVersion: number): string {
  return `v1.${minorVersion}.0`;
}

export function versionInfo(minorVersion: number): JsonObject {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return {
    major: '1',
    minor: String(minorVersion),
    gitVersion: gitVersionOf(minorVersion),
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: 'go1.23.4',
    compiler: 'gc',
    platform: `linux/${arch}`,
  };
}
