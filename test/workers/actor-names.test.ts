// Each actor logs under its own name: the HTTP relay as `http-relay`, the kubectl session as `ws-session`
// and the tunnel stream as `tunnel-stream`, although the three share one context (one per thread).

import test from 'ava';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import type { Logger } from 'pino';
import wsSession, { ActorContext } from '../../workers/ws-session.js';
import { DEFAULT_WORKER_TUNING, type WorkerConfig } from '../../src/config/agent-config.js';
import type { ActorName, ActorOutbound } from '../../src/messages/actor-messages.js';
import { detectClusterDomain } from '../../workers/lib/service-target.js';

class RecordingContext extends ActorContext {
  readonly names: ActorName[] = [];
  readonly boundActors: unknown[] = [];

  override actorLogger(actor: ActorName): Logger {
    const logger = super.actorLogger(actor);
    this.names.push(actor);
    this.boundActors.push(logger.bindings()['actor']);
    return logger;
  }
}

function newContext(hostAliases: Record<string, string> = {}): RecordingContext {
  const config: WorkerConfig = {
    logLevel: 'silent',
    kubeconfig: undefined,
    kube: undefined,
    compression: 'zlib',
    requestTimeoutMs: 5_000,
    dropAcceptEncoding: true,
    tuning: { ...DEFAULT_WORKER_TUNING, hostAliases },
  };
  return new RecordingContext(config);
}

/** Runs one task, answering the actor's port until it reports done or closes it. */
async function run(context: RecordingContext, task: (port: MessageChannel['port2']) => Parameters<typeof wsSession>[0]): Promise<void> {
  const channel = new MessageChannel();
  channel.port1.on('message', (message: ActorOutbound) => {
    if (message.type === 'done') channel.port1.close();
  });
  try {
    await wsSession(task(channel.port2), context);
  } finally {
    channel.port1.close();
    context.close();
  }
}

const frame = (type: string, id: string, payload: Record<string, unknown>): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify({ type, request_id: id, payload })));

test('an HTTP relay logs as http-relay', async (t) => {
  const context = newContext();
  await run(context, (port) => ({ kind: 'http-relay', requestId: 'n-1', frame: frame('proxy_request', 'n-1', { method: 'GET', path: '/api' }), port }));
  t.deepEqual(context.names, ['http-relay']);
  t.deepEqual(context.boundActors, ['http-relay']);
});

test('a kubectl session logs as ws-session', async (t) => {
  const context = newContext();
  await run(context, (port) => ({ kind: 'ws-session', streamId: 'n-2', frame: frame('proxy_websocket_start', 'n-2', { path: '/api/v1/namespaces/default/pods/p/exec' }), port }));
  t.deepEqual(context.names, ['ws-session']);
  t.deepEqual(context.boundActors, ['ws-session']);
});

test('a tunnel stream logs as tunnel-stream', async (t) => {
  // A port nobody listens on: the dial is refused at once and the stream ends.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const context = newContext({ [`db.apps.svc.${detectClusterDomain()}`]: '127.0.0.1' });
  await run(context, (port) => ({
    kind: 'tunnel-stream',
    streamId: 'tcp/1',
    protocol: 'tcp',
    serviceName: 'db',
    serviceNamespace: 'apps',
    servicePort: closedPort,
    frame: new Uint8Array(0),
    port,
    connectTimeoutMs: 2_000,
    udpIdleTimeoutMs: 2_000,
    creditBytes: 64 * 1024,
  }));
  t.deepEqual(context.names, ['tunnel-stream']);
  t.deepEqual(context.boundActors, ['tunnel-stream']);
});
