// Port-forward as the request router's handler for pods/<name>/portforward (pod-stream-handler.ts):
// the router has authenticated the request, checked the method and found the pod; this turns the
// exchange into a PortForwardService upgrade and keeps the service findable by the sandbox's store, so
// tests can read its counters.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest } from '../../http/api-status.js';
import { sendBytes } from '../../http/http-exchange.js';
import type { ObjectStore } from '../../store/object-store.js';
import { replyStatus, type PodStreamContext, type PodStreamHandler, type PodStreamTarget, type UpgradeExchange } from '../pod-stream-handler.js';
import { PortForwardService, type PortForwardStats } from './port-forward-service.js';
import type { UpgradeRefuser } from './upgrade-handshake.js';

const services = new WeakMap<ObjectStore, PortForwardService>();

/** The port-forward service of the sandbox that owns `store` (for tests: counters, pod-port map). */
export function portForwardServiceFor(store: ObjectStore): PortForwardService | undefined {
  return services.get(store);
}

/** Live port-forward resources of a sandbox, or undefined when it serves no port-forward. */
export function portForwardStats(store: ObjectStore): PortForwardStats | undefined {
  return services.get(store)?.stats();
}

function exchangeRefuser(exchange: UpgradeExchange): UpgradeRefuser {
  return {
    status: (error) => replyStatus(exchange.request, exchange.response(), error),
    httpError: (statusCode, text, headers = {}) =>
      sendBytes(
        exchange.request,
        exchange.response(),
        { statusCode, contentType: 'text/plain; charset=utf-8', headers: { 'X-Content-Type-Options': 'nosniff', ...headers } },
        Buffer.from(`${text}\n`),
      ),
  };
}

export function createPortForwardHandler(context: PodStreamContext): PodStreamHandler {
  const service = new PortForwardService({ logger: context.logger.child({ component: 'sandbox-portforward' }) });
  services.set(context.store, service);
  const goneSubscriptions = new Map<string, () => void>();

  function watchPod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (goneSubscriptions.has(key)) return;
    function portForwardOnPodGone(): void {
      goneSubscriptions.delete(key);
      service.podGone({ namespace, name });
    }
    goneSubscriptions.set(key, context.runtime.onGone(namespace, name, portForwardOnPodGone));
  }

  return {
    serveRequest(_target: PodStreamTarget, request: IncomingMessage, response: ServerResponse): void {
      // the apiserver's UpgradeAwareHandler with UpgradeRequired set
      replyStatus(request, response, badRequest('Upgrade request required'));
    },
    async serveUpgrade(target: PodStreamTarget, exchange: UpgradeExchange): Promise<void> {
      watchPod(target.namespace, target.name);
      await service.upgrade({
        request: exchange.request,
        socket: exchange.socket,
        head: exchange.head,
        pod: { namespace: target.namespace, name: target.name },
        object: target.pod,
        refuse: exchangeRefuser(exchange),
      });
    },
    get activeSessions(): number {
      return service.stats().connections;
    },
    async close(): Promise<void> {
      for (const unsubscribe of goneSubscriptions.values()) unsubscribe();
      goneSubscriptions.clear();
      await service.close();
    },
  };
}
