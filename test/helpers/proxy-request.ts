// A decoded proxy_request (workers/lib/proxy-request.ts) for actor-level tests: a plain GET with a
// minute's deadline, changed by `overrides`.

import type { ProxyRequest } from '../../workers/lib/proxy-request.js';

export function proxyRequestOf(overrides: Partial<ProxyRequest> = {}): ProxyRequest {
  return {
    method: 'GET',
    path: '/items',
    query: '',
    headers: {},
    body: { kind: 'none' },
    isWebSocket: false,
    protocol: 'HTTP/1.1',
    supportsResponseStreaming: false,
    deadlineMs: Date.now() + 60_000,
    hasExplicitDeadline: false,
    service: undefined,
    hasPartialService: false,
    ...overrides,
  };
}
