// The router on its own: scripted actors on a host of the test's own and a socket that records what is
// written. What it must hold whatever the actor does: one terminal reply per stream (C93), replies only on
// the stream's own socket (§3.4), refusals before any state exists, protocol_fallback once per type and
// socket (§8.3), and credit given back once the socket took the bytes (§9.11).

import test from 'ava';
import { MessageChannel, type Worker } from 'node:worker_threads';
import pino from 'pino';
import { StreamRouter } from '../../../src/router/stream-router.js';
import type { SessionSocket } from '../../../src/router/stream-entry.js';
import { Lane } from '../../../src/router/admission.js';
import type { ActorHost } from '../../../src/pool/actor-host.js';
import { AgentMetrics } from '../../../src/metrics/agent-metrics.js';
import { systemClock } from '../../../src/util/clock.js';
import { encodeEnvelope, parseEnvelope, type Envelope, type JsonObject } from '../../../src/protocol/envelope.js';
import { peekEnvelope } from '../../../src/protocol/envelope-peek.js';
import { encodeRequestBodyFrame, decodeRequestBodyFrame } from '../../../src/protocol/binary-frame.js';
import { ActorKind, isActorInbound, type ActorDone, type ActorInbound, type ActorPort, type ActorTask } from '../../../src/messages/actor-messages.js';
import { FALLBACK_TYPES_LIMIT } from '../../../src/router/fallback-types.js';
import { eventually } from '../../helpers/eventually.js';

class RecordingSocket implements SessionSocket {
  readonly written: { readonly data: string | Uint8Array; readonly isBinary: boolean }[] = [];
  isOpen = true;
  bufferedAmount = 0;
  isStreamFramesActive = false;
  isYamuxActive = false;

  send(data: string | Uint8Array, isBinary: boolean, onWritten?: () => void): boolean {
    if (!this.isOpen) return false;
    this.written.push({ data, isBinary });
    if (onWritten !== undefined) setImmediate(onWritten);
    return true;
  }

  get envelopes(): Envelope[] {
    return this.written.filter((frame) => !frame.isBinary).map((frame) => parseEnvelope(frame.data as string)!);
  }
}

type Script = (task: ActorTask, actor: ScriptedActor) => Promise<void>;

/** The actor side of one task's port: what the router sent it, and helpers to answer. */
class ScriptedActor {
  readonly received: ActorInbound[] = [];
  readonly #port: ActorPort;

  constructor(port: ActorPort) {
    this.#port = port;
    port.on('message', (message: unknown) => {
      if (isActorInbound(message)) this.received.push(message);
    });
  }

  send(type: string, payload: JsonObject, requestId: string, needsCredit = false): void {
    const data = Buffer.from(encodeEnvelope(type, payload, requestId, Date.now()));
    this.#port.postMessage({ type: 'send', data, isBinary: false, needsCredit });
  }

  done(kind: ActorKind = ActorKind.httpRelay): void {
    const done: ActorDone = { type: 'done', kind, outcome: 'ok', mode: 'json', durationMs: 1, upstreamBytesSent: 0, upstreamBytesReceived: 0 };
    this.#port.postMessage(done);
  }

  async waitFor(type: ActorInbound['type']): Promise<ActorInbound> {
    const find = (): ActorInbound | undefined => this.received.find((message) => message.type === type);
    await eventually(() => find() !== undefined, `the actor is sent ${type}`);
    return find()!;
  }
}

class ScriptedHost implements ActorHost {
  readonly actors: ScriptedActor[] = [];
  activeActors = 0;
  readonly threads = 0;
  readonly queueSize = 0;
  readonly workerThreads: readonly Worker[] = [];
  #script: Script;

  constructor(script: Script) {
    this.#script = script;
  }

  use(script: Script): void {
    this.#script = script;
  }

  async run(task: ActorTask): Promise<void> {
    const actor = new ScriptedActor(task.port);
    this.actors.push(actor);
    this.activeActors++;
    try {
      await this.#script(task, actor);
    } finally {
      this.activeActors--;
    }
  }

  createChannel(): { port1: ActorPort; port2: ActorPort } {
    return new MessageChannel();
  }

  async close(): Promise<void> {}
}

/** Resolves when `actor` is told to cancel: the script's way to stay running until then. */
async function untilCancelled(actor: ScriptedActor): Promise<void> {
  await actor.waitFor('cancel');
}

function routerWith(host: ScriptedHost, slots = 4, maxQueue = 4): { router: StreamRouter; metrics: AgentMetrics; failures: Error[] } {
  const metrics = new AgentMetrics();
  const failures: Error[] = [];
  const router = new StreamRouter({
    hosts: { short: host, long: host },
    lanes: { [Lane.short]: { slots, maxQueue }, [Lane.long]: { slots, maxQueue } },
    requestTimeoutMs: 60_000,
    metrics,
    logger: pino({ level: 'silent' }),
    clock: systemClock,
    onActorFailure: (error) => failures.push(error),
  });
  return { router, metrics, failures };
}

function deliver(router: StreamRouter, socket: SessionSocket, type: string, payload: JsonObject, requestId?: string): void {
  const data = Buffer.from(encodeEnvelope(type, payload, requestId, Date.now()));
  router.onEnvelope(socket as never, peekEnvelope(data)!, data);
}

const GET = { method: 'GET', path: '/api/v1/namespaces/default/pods/p1', headers: {} } as const;

test('a proxy_request gets the actor\'s reply on its own socket, and the stream is forgotten at done', async (t) => {
  const host = new ScriptedHost(async (task, actor) => {
    t.is(task.kind, ActorKind.httpRelay);
    actor.send('proxy_response', { status: 200, body: 'e30=' }, 'r1');
    actor.done();
  });
  const { router } = routerWith(host);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_request', GET, 'r1');
  t.is(router.activeRequests, 1);
  await eventually(() => router.activeRequests === 0, 'router.activeRequests === 0');
  t.deepEqual(socket.envelopes.map((envelope) => [envelope.type, envelope.requestId]), [['proxy_response', 'r1']]);
});

test('C93: an actor that throws leaves its stream one proxy_error, counted, and reported as a failure', async (t) => {
  const host = new ScriptedHost(async () => {
    throw new Error('boom');
  });
  const { router, metrics, failures } = routerWith(host);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_request', GET, 'r1');
  await eventually(() => router.activeRequests === 0, 'router.activeRequests === 0');
  const replies = socket.envelopes;
  t.is(replies.length, 1);
  t.is(replies[0]!.type, 'proxy_error');
  t.regex(String(replies[0]!.payload['error']), /actor failed: Error: boom/);
  t.is(failures.length, 1);
  t.is(await metrics.value('actorTasks', { kind: 'http-relay', outcome: 'actor_error' }), 1);
});

test('C93: an actor that reports done without a terminal reply still leaves exactly one proxy_error', async (t) => {
  const host = new ScriptedHost(async (_task, actor) => actor.done());
  const { router } = routerWith(host);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_request', GET, 'r1');
  await eventually(() => router.activeRequests === 0, 'router.activeRequests === 0');
  t.deepEqual(
    socket.envelopes.map((envelope) => [envelope.type, envelope.payload['error']]),
    [['proxy_error', 'agent error: stream ended without a reply']],
  );
});

test('§3.4: a socket that ends cancels its streams; their later output goes nowhere, not to a newer socket', async (t) => {
  const host = new ScriptedHost(async (_task, actor) => {
    await untilCancelled(actor);
    actor.send('proxy_response', { status: 200 }, 'r1');
    actor.done();
  });
  const { router } = routerWith(host);
  const old = new RecordingSocket();
  const fresh = new RecordingSocket();
  deliver(router, old, 'proxy_request', GET, 'r1');
  await eventually(() => host.actors.length === 1, 'host.actors.length === 1');
  old.isOpen = false;
  router.onSessionEnd(old as never);
  router.onSessionStart(fresh as never);
  const cancel = await host.actors[0]!.waitFor('cancel');
  t.deepEqual(cancel, { type: 'cancel', reason: 'connection_lost' });
  await eventually(() => host.activeActors === 0, 'host.activeActors === 0');
  t.deepEqual(old.written, []);
  t.deepEqual(fresh.written, []);
  t.is(router.activeRequests, 0);
});

test('refusals before any state: a duplicate id, a full lane, and a draining agent each get one proxy_error', async (t) => {
  const host = new ScriptedHost(async (_task, actor) => untilCancelled(actor).then(() => actor.done()));
  const { router, metrics } = routerWith(host, 1, 0);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_request', GET, 'r1');
  deliver(router, socket, 'proxy_request', GET, 'r1');
  deliver(router, socket, 'proxy_request', GET, 'r2');
  router.beginDrain();
  deliver(router, socket, 'proxy_request', GET, 'r3');
  t.deepEqual(
    socket.envelopes.map((envelope) => [envelope.requestId, envelope.payload['error']]),
    [
      ['r1', 'duplicate request_id'],
      ['r2', 'too many concurrent requests'],
      ['r3', 'agent shutting down'],
    ],
  );
  t.is(await metrics.value('admissionRefused', { reason: 'saturated' }), 1);
  router.endAll();
  await eventually(() => host.activeActors === 0, 'host.activeActors === 0');
  // r1 was running: endAll owes it its terminal reply.
  t.deepEqual(socket.envelopes.at(-1)!.payload['error'], 'agent shutting down');
  t.is(socket.envelopes.at(-1)!.requestId, 'r1');
});

test('§9.12: a request cancelled while it waits for a slot is withdrawn with nothing sent', async (t) => {
  const host = new ScriptedHost(async (_task, actor) => untilCancelled(actor).then(() => actor.done()));
  const { router } = routerWith(host, 1, 4);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_request', GET, 'r1');
  deliver(router, socket, 'proxy_request', GET, 'r2');
  t.is(router.laneLoad(Lane.short).waiting, 1);
  deliver(router, socket, 'proxy_cancel', {}, 'r2');
  t.is(router.laneLoad(Lane.short).waiting, 0);
  t.is(router.activeRequests, 1);
  t.deepEqual(socket.written, []);
  await router.close();
});

test('§8.3: an unknown type gets protocol_fallback once per type and socket, up to the limit', async (t) => {
  const { router, metrics } = routerWith(new ScriptedHost(async () => undefined));
  const first = new RecordingSocket();
  const second = new RecordingSocket();
  deliver(router, first, 'shiny_new_type', {}, 'x1');
  deliver(router, first, 'shiny_new_type', {}, 'x2');
  deliver(router, second, 'shiny_new_type', {});
  t.deepEqual(first.envelopes.map((envelope) => [envelope.type, envelope.payload['unknown_type'], envelope.payload['original_request_id']]), [
    ['protocol_fallback', 'shiny_new_type', 'x1'],
  ]);
  t.is(second.envelopes.length, 1);
  t.is(await metrics.value('unknownMessageType'), 3);
  for (let index = 0; index < FALLBACK_TYPES_LIMIT + 5; index++) deliver(router, first, `type_${index}`, {});
  t.is(first.envelopes.length, FALLBACK_TYPES_LIMIT);
});

test('§4.3 (a): a request body frame reaches only the body_binary request waiting for it on the same socket', async (t) => {
  const host = new ScriptedHost(async (_task, actor) => {
    const body = (await actor.waitFor('body')) as { data: Uint8Array };
    actor.send('proxy_response', { status: 200, body: Buffer.from(body.data).toString('base64') }, 'r1');
    actor.done();
  });
  const { router } = routerWith(host);
  const socket = new RecordingSocket();
  const other = new RecordingSocket();
  const frame = decodeRequestBodyFrame(encodeRequestBodyFrame('r1', Buffer.from('payload')))!;
  t.false(router.takeRequestBody(socket as never, frame), 'no request yet');
  deliver(router, socket, 'proxy_request', { ...GET, method: 'POST', body_binary: true }, 'r1');
  t.false(router.takeRequestBody(other as never, frame), 'another socket');
  t.true(router.takeRequestBody(socket as never, frame));
  t.false(router.takeRequestBody(socket as never, frame), 'taken once');
  await eventually(() => router.activeRequests === 0, 'router.activeRequests === 0');
  t.is(Buffer.from(String(socket.envelopes[0]!.payload['body']), 'base64').toString(), 'payload');
});

test('§9.11: bytes sent for credit come back as credit once the socket took them', async (t) => {
  const host = new ScriptedHost(async (_task, actor) => {
    actor.send('proxy_response_chunk', { data: 'AAAA' }, 'r1', true);
    await actor.waitFor('credit');
    actor.send('proxy_response_end', {}, 'r1');
    actor.done();
  });
  const { router } = routerWith(host);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_request', { ...GET, path: '/api/v1/pods?watch=1' }, 'r1');
  await eventually(() => router.activeRequests === 0, 'router.activeRequests === 0');
  const credit = host.actors[0]!.received.find((message) => message.type === 'credit') as { bytes: number };
  t.is(credit.bytes, Buffer.byteLength(socket.written[0]!.data as string));
  t.is(router.outstandingStreamBytes, 0);
});

test('§13.2: a session start without stream_id or with a non-API path is refused; a valid one runs on the long lane', async (t) => {
  const host = new ScriptedHost(async (task, actor) => {
    t.is(task.kind, ActorKind.wsSession);
    await untilCancelled(actor);
    actor.done(ActorKind.wsSession);
  });
  const { router } = routerWith(host);
  const socket = new RecordingSocket();
  deliver(router, socket, 'proxy_websocket_start', { path: '/api/v1/namespaces/d/pods/p/exec' }, 'q1');
  deliver(router, socket, 'proxy_websocket_start', { stream_id: 's1', path: '/etc/passwd' }, 'q2');
  deliver(router, socket, 'proxy_websocket_start', { stream_id: 's2', path: '/api/v1/namespaces/d/pods/p/exec' }, 'q3');
  t.deepEqual(socket.envelopes.map((envelope) => envelope.payload['error']), ['missing stream_id', 'invalid path: must be a Kubernetes API path']);
  t.is(router.activeSessions, 1);
  t.is(router.laneLoad(Lane.long).running, 1);
  router.endAll();
  await eventually(() => router.activeSessions === 0 && host.activeActors === 0, 'router.activeSessions === 0 && host.activeActors === 0');
  t.is(socket.envelopes.at(-1)!.type, 'proxy_websocket_close');
});
