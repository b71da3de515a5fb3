// Kubernetes `Status` bodies for the errors the local control plane itself answers to kubectl
// (unknown cluster, agent not connected, agent failure, timeout), written the way kube-apiserver does.

import type { ServerResponse } from 'node:http';

const REASON_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  404: 'NotFound',
  501: 'NotImplemented',
  502: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function kubeStatusBody(code: number, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: REASON_BY_STATUS[code] ?? 'InternalError',
    code,
  });
}

/** Answers with a Status body, unless headers already went out (then the response can only be cut). */
export function writeKubeStatus(res: ServerResponse, code: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = kubeStatusBody(code, message);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
