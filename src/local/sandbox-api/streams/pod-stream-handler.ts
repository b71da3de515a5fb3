// The contract between the request router and the pod subresources that stream instead of returning a
// stored object (log, exec, attach, portforward): what a handler is given, what it must serve, and the
// Status reply every handler uses for its refusals.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../log.js';
import type { ApiStatusError } from '../http/api-status.js';
import { encodeJson, sendBytes } from '../http/http-exchange.js';
import type { JsonObject } from '../store/json-value.js';
import type { ObjectStore } from '../store/object-store.js';
import type { PodRuntime } from '../runtime/pod-runtime.js';
import type { UpgradeExchange } from '../http/upgrade-exchange.js';

export type { UpgradeExchange } from '../http/upgrade-exchange.js';

export const POD_STREAM_SUBRESOURCES = ['log', 'exec', 'attach', 'portforward'] as const;
export type PodStreamSubresource = (typeof POD_STREAM_SUBRESOURCES)[number];

export function isPodStreamSubresource(name: string | undefined): name is PodStreamSubresource {
  return POD_STREAM_SUBRESOURCES.some((subresource) => subresource === name);
}

/** One request for a pod subresource; the router has checked that the pod exists. */
export interface PodStreamTarget {
  readonly subresource: PodStreamSubresource;
  readonly namespace: string;
  readonly name: string;
  /** the stored pod at the time of the request */
  readonly pod: JsonObject;
  readonly method: string;
  readonly query: URLSearchParams;
}

/** What every handler gets from the server that owns it. */
export interface PodStreamContext {
  readonly store: ObjectStore;
  readonly runtime: PodRuntime;
  readonly logger: Logger;
}

export interface PodStreamHandler {
  /** A plain request (no Upgrade header); the body has been read already. */
  serveRequest(target: PodStreamTarget, request: IncomingMessage, response: ServerResponse): void | Promise<void>;
  /** An upgrade request (WebSocket or SPDY); the body is not read. */
  serveUpgrade(target: PodStreamTarget, exchange: UpgradeExchange): void | Promise<void>;
  /** Open sessions (followed logs, exec and attach connections, forwarded ports). */
  readonly activeSessions: number;
  /** Ends every session and child process; resolves when they are gone. */
  close(): Promise<void>;
}

export type PodStreamHandlerFactory = (context: PodStreamContext) => PodStreamHandler;

/** Answers with the Status body of `error` (JSON, the apiserver's headers). */
export function replyStatus(request: IncomingMessage, response: ServerResponse, error: ApiStatusError): void {
  sendBytes(request, response, { statusCode: error.code, contentType: 'application/json' }, encodeJson(error.body));
}

/** The apiserver's choice of container: the named one, or the only one; 400s otherwise (pod.LogLocation). */
export function chooseContainer(target: PodStreamTarget, requested: string | null): { container: string } | { error: string } {
  const spec = target.pod['spec'];
  const names = (key: string): string[] => {
    const list = typeof spec === 'object' && spec !== null && !Array.isArray(spec) ? spec[key] : undefined;
    if (!Array.isArray(list)) return [];
    return list.flatMap((container) => (typeof container === 'object' && container !== null && !Array.isArray(container) && typeof container['name'] === 'string' ? [container['name']] : []));
  };
  const containers = names('containers');
  const initContainers = names('initContainers');
  if (requested !== null && requested !== '') {
    if (containers.includes(requested) || initContainers.includes(requested)) return { container: requested };
    return { error: `container ${requested} is not valid for pod ${target.name}` };
  }
  const [only] = containers;
  if (containers.length === 1 && only !== undefined) return { container: only };
  if (containers.length === 0) return { error: `a container name must be specified for pod ${target.name}` };
  const init = initContainers.length > 0 ? ` or one of the init containers: [${initContainers.join(' ')}]` : '';
  return { error: `a container name must be specified for pod ${target.name}, choose one of: [${containers.join(' ')}]${init}` };
}
