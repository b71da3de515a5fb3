// The main thread's tunnel data path (src/tunnel/tunnel-streams.ts) with the gateway's yamux session on the
// other side of an in-memory transport and the real tunnel actor run inline against loopback TCP and UDP
// echo targets (PROTOCOL.md §15.2, §15.5): the header is read, the actor admitted, bytes flow both ways,
// and every failure ends the stream with RST and a counted error kind.

import test, { type ExecutionContext } from 'ava';
import { createServer, type AddressInfo } from 'node:net';
import { TunnelStreams, type TunnelStreamsOptions } from '../../../src/tunnel/tunnel-streams.js';
import { YamuxRole, YamuxSession } from '../../../src/tunnel/yamux/yamux-session.js';
import type { Connection } from '../../../src/link/connection.js';
import { AgentMetrics } from '../../../src/metrics/agent-metrics.js';
import { silentLogger } from '../../../src/log.js';
import { encodeTunnelHeader, type TunnelHeader } from '../../../src/protocol/tunnel-header.js';
import { DEFAULT_WORKER_TUNING } from '../../../src/config/agent-config.js';
import type { TunnelStreamTask } from '../../../src/messages/tunnel-messages.js';
import { ActorContext } from '../../../workers/lib/actor-context.js';
import { detectClusterDomain } from '../../../workers/lib/service-target.js';
import tunnelStream from '../../../workers/tunnel-stream.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';
import { eventually } from '../../helpers/eventually.js';
import { openTunnel, readStream, tcpEcho, udpEcho } from '../../helpers/yamux-gateway.js';
import { localChannel } from '../../../src/pool/local-channel.js';

const ECHO_HOST = `echo.apps.svc.${detectClusterDomain()}`;
const HELLO = { use_yamux: true } as const;

interface Rig {
  readonly streams: TunnelStreams;
  readonly gateway: YamuxSession;
  readonly metrics: AgentMetrics;
  readonly clock: SimulatedClock;
  readonly admitted: TunnelStreamTask[];
  /** Actors still running. */
  readonly running: Set<Promise<void>>;
}

type Admit = TunnelStreamsOptions['admit'];

/** A fake Connection: only what TunnelStreams asks of it, and the session it activated. */
function fakeConnection(): { link: Connection; session: () => YamuxSession | undefined } {
  let yamux: YamuxSession | undefined;
  const link = {
    get isYamuxActive() {
      return yamux !== undefined;
    },
    activateYamux(session: YamuxSession) {
      if (yamux !== undefined) return false;
      yamux = session;
      return true;
    },
  } as unknown as Connection;
  return { link, session: () => yamux };
}

function rig(t: ExecutionContext, options: { maxStreams?: number; admit?: Admit } = {}): Rig {
  const clock = new SimulatedClock();
  const metrics = new AgentMetrics();
  const admitted: TunnelStreamTask[] = [];
  const running = new Set<Promise<void>>();
  const context = new ActorContext({
    logLevel: 'silent',
    kubeconfig: undefined,
    kube: undefined,
    compression: 'zlib',
    requestTimeoutMs: 10_000,
    dropAcceptEncoding: true,
    tuning: { ...DEFAULT_WORKER_TUNING, hostAliases: { [ECHO_HOST]: '127.0.0.1' } },
  });
  const inlineAdmit: Admit = (task, onStart, onFailure) => {
    admitted.push(task);
    onStart();
    const actor = tunnelStream(task, context).catch(onFailure);
    running.add(actor);
    void actor.finally(() => running.delete(actor));
    return { cancel: () => undefined };
  };
  const { link, session } = fakeConnection();
  const gateway = new YamuxSession({
    role: YamuxRole.server,
    clock,
    keepAliveIntervalMs: 0,
    transport: {
      write: (bytes, onWritten) => {
        const copy = Buffer.from(bytes);
        setImmediate(() => session()?.receive(copy));
        onWritten?.();
      },
    },
  });
  const streams = new TunnelStreams({
    send: (_connection, bytes, onWritten) => {
      const copy = Buffer.from(bytes);
      setImmediate(() => gateway.receive(copy));
      onWritten();
      return true;
    },
    admit: options.admit ?? inlineAdmit,
    createChannel: localChannel,
    settings: { maxStreams: options.maxStreams ?? 8, udpIdleTimeoutMs: 60_000 },
    metrics,
    logger: silentLogger(),
    clock,
  });
  t.true(streams.onGatewayHello(link, HELLO), 'yamux is negotiated');
  t.teardown(async () => {
    streams.resetAll();
    await Promise.all([...running]);
    gateway.close();
    session()?.close();
    context.close();
  });
  return { streams, gateway, metrics, clock, admitted, running };
}

const header = (port: number, protocol: 'tcp' | 'udp' = 'tcp'): TunnelHeader => ({ protocol, servicePort: port, serviceName: 'echo', serviceNamespace: 'apps', tunnelId: 't-1' });

async function errors(metrics: AgentMetrics, kind: string): Promise<number> {
  return metrics.value('tunnelStreamErrors', { kind });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('§15.5: a TCP stream reaches its target, carries bytes both ways and ends with FIN after the gateway’s FIN', async (t) => {
  const { gateway, metrics, streams, admitted } = rig(t);
  const echo = await tcpEcho(t);
  const stream = openTunnel(gateway, header(echo.port), Buffer.from('hello '));
  const result = readStream(stream);
  stream.write(Buffer.from('tunnel'));
  await eventually(() => stream.bytesIn >= 12, 'the echo of both writes');
  stream.end();
  const { data, end } = await result;
  t.is(end, 'fin');
  t.is(data.toString(), 'hello tunnel');
  t.is(admitted.length, 1);
  t.like(admitted[0], { protocol: 'tcp', serviceName: 'echo', serviceNamespace: 'apps', servicePort: echo.port, streamId: `tcp/${stream.id}` });
  t.is(await metrics.value('tunnelStreamsOpened', { protocol: 'tcp' }), 1);
  await eventually(() => streams.activeStreams === 0, 'the stream forgotten');
  t.is(await metrics.value('tunnelBytes', { direction: 'out', protocol: 'tcp' }), 12);
  t.is(await metrics.value('tunnelStreamsActive', { protocol: 'tcp' }), 0);
});

test('§15.5: a UDP stream sends each chunk as a datagram and writes each reply to the stream', async (t) => {
  const { gateway, metrics } = rig(t);
  const echo = await udpEcho(t);
  const stream = openTunnel(gateway, header(echo.port, 'udp'), Buffer.from('ping'));
  const result = readStream(stream);
  await eventually(() => stream.bytesIn >= 4, 'the datagram echoed');
  stream.end();
  const { data, end } = await result;
  t.is(end, 'fin');
  t.is(data.toString(), 'ping');
  t.is(await metrics.value('tunnelStreamsOpened', { protocol: 'udp' }), 1);
});

test('§15.4: a header with an unknown version is refused with RST and counted as a header error', async (t) => {
  const { gateway, metrics, admitted } = rig(t);
  const stream = gateway.open();
  stream.write(Buffer.from([9, 1, 0, 80]));
  t.is((await readStream(stream)).end, 'reset');
  t.is(await errors(metrics, 'header'), 1);
  t.is(admitted.length, 0);
});

test('§15.4: a stream that ends inside its header is reset as truncated', async (t) => {
  const { gateway, metrics, admitted } = rig(t);
  const stream = gateway.open();
  stream.write(encodeTunnelHeader(header(80)).subarray(0, 5));
  stream.end();
  t.is((await readStream(stream)).end, 'reset');
  t.is(await errors(metrics, 'header'), 1);
  t.is(admitted.length, 0);
});

test('§15.4: a header not completed within the connection timeout is reset', async (t) => {
  const { gateway, metrics, clock, streams } = rig(t);
  const stream = gateway.open();
  const result = readStream(stream);
  stream.write(encodeTunnelHeader(header(80)).subarray(0, 5));
  await eventually(() => streams.activeStreams === 1, 'the stream seen by the agent');
  clock.advance(29_999);
  t.is(streams.activeStreams, 1, 'not before the timeout');
  clock.advance(1);
  t.is((await result).end, 'reset');
  t.is(await errors(metrics, 'header'), 1);
});

test('§15.5: a target that refuses the connection resets the stream as a dial error', async (t) => {
  const { gateway, metrics, streams } = rig(t);
  const stream = openTunnel(gateway, header(await closedPort()), Buffer.from('lost'));
  t.is((await readStream(stream)).end, 'reset');
  t.is(await errors(metrics, 'dial'), 1);
  await eventually(() => streams.activeStreams === 0, 'the stream forgotten');
});

test('a target that resets its connection resets the stream as a target error', async (t) => {
  const { gateway, metrics } = rig(t);
  const echo = await tcpEcho(t);
  const stream = openTunnel(gateway, header(echo.port), Buffer.from('x'));
  const result = readStream(stream);
  await eventually(() => echo.connections.length === 1 && stream.bytesIn >= 1, 'the target connected and echoing');
  echo.connections[0]!.resetAndDestroy();
  t.is((await result).end, 'reset');
  t.is(await errors(metrics, 'target'), 1);
});

test('a stream the gateway resets closes the target connection', async (t) => {
  const { gateway, streams } = rig(t);
  const echo = await tcpEcho(t);
  const stream = openTunnel(gateway, header(echo.port), Buffer.from('x'));
  await eventually(() => echo.connections.length === 1 && stream.bytesIn >= 1, 'the target connected and echoing');
  const closed = new Promise<void>((resolve) => echo.connections[0]!.once('close', () => resolve()));
  stream.reset();
  await closed;
  await eventually(() => streams.activeStreams === 0, 'the stream forgotten');
  t.pass();
});

test('a stream over maxStreams is reset as refused and never reaches an actor', async (t) => {
  const { gateway, metrics, streams, admitted } = rig(t, { maxStreams: 1 });
  const echo = await tcpEcho(t);
  // A stream stuck in its header holds the only slot.
  const holder = gateway.open();
  holder.write(encodeTunnelHeader(header(echo.port)).subarray(0, 3));
  await eventually(() => streams.activeStreams === 1, 'the slot taken');
  const over = openTunnel(gateway, header(echo.port), Buffer.from('x'));
  t.is((await readStream(over)).end, 'reset');
  t.is(await errors(metrics, 'refused'), 1);
  t.is(admitted.length, 0);
  t.is(echo.connections.length, 0);
});

test('a stream the long lane refuses is reset as refused', async (t) => {
  const { gateway, metrics } = rig(t, { admit: () => undefined });
  const stream = openTunnel(gateway, header(80));
  t.is((await readStream(stream)).end, 'reset');
  t.is(await errors(metrics, 'refused'), 1);
});

test('an actor that fails resets its stream as a target error', async (t) => {
  const { gateway, metrics } = rig(t, {
    admit: (_task, onStart, onFailure) => {
      onStart();
      setImmediate(() => onFailure(new Error('actor crashed')));
      return { cancel: () => undefined };
    },
  });
  const stream = openTunnel(gateway, header(80));
  t.is((await readStream(stream)).end, 'reset');
  t.is(await errors(metrics, 'target'), 1);
});

test('after beginDrain no new stream is accepted, and resetAll resets the streams in progress', async (t) => {
  const { gateway, metrics, streams } = rig(t);
  const echo = await tcpEcho(t);
  const running = openTunnel(gateway, header(echo.port), Buffer.from('x'));
  const result = readStream(running);
  await eventually(() => running.bytesIn >= 1, 'the stream running');
  streams.beginDrain();
  // Opened before the gateway saw the go-away: the agent resets it.
  const late = openTunnel(gateway, header(echo.port));
  t.is((await readStream(late)).end, 'reset');
  t.throws(() => gateway.open(), { message: /not accepting streams/ });
  t.is(streams.activeStreams, 1, 'the running stream kept');
  streams.resetAll();
  t.is((await result).end, 'reset');
  t.is(await errors(metrics, 'session'), 1);
  t.is(streams.activeStreams, 0);
});

test('§15.2: gateway_hello without use_yamux, a second hello, and a window below 256 KiB are not acknowledged', (t) => {
  const metrics = new AgentMetrics();
  const streams = new TunnelStreams({
    send: () => true,
    admit: () => undefined,
    createChannel: localChannel,
    settings: { maxStreams: 8, udpIdleTimeoutMs: 60_000 },
    metrics,
    logger: silentLogger(),
    clock: new SimulatedClock(),
  });
  const { link, session } = fakeConnection();
  t.false(streams.onGatewayHello(link, { use_yamux: false }));
  t.false(streams.onGatewayHello(link, { use_yamux: true, yamux_config: { max_stream_window_size: 1024 } }));
  t.is(session(), undefined);
  t.true(streams.onGatewayHello(link, { use_yamux: true }));
  t.false(streams.onGatewayHello(link, { use_yamux: true }), 'yamux already active');
  session()?.close();
});
