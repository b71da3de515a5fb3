// Local control plane, kubectl WebSocket sessions on the raw wire: the 101 for kubectl's port-forward
// subprotocol (which the ws library refuses, so the bytes are read and written by hand here), and the
// pause of kubectl clients while the agent socket is backed up.

import test from 'ava';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { connectedStack, framed } from '../helpers/control-plane-stack.js';
import { eventually } from '../helpers/eventually.js';

const PORTFORWARD_PATH = '/api/v1/namespaces/default/pods/web-0/portforward';
/** RFC 6455 §1.3's sample key and its accept value. */
const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A client frame (FIN set, masked, payload under 126 bytes), as RFC 6455 §5.2 lays it out. */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, body]);
}

/** Collects a raw socket's bytes and waits until `count` of them have arrived. */
class RawReader {
  #bytes = Buffer.alloc(0);
  #consumed = 0;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.#bytes = Buffer.concat([this.#bytes, chunk])));
  }

  async until(isDone: (pending: Buffer) => number | undefined, what: string): Promise<Buffer> {
    let end: number | undefined;
    await eventually(() => (end = isDone(this.#bytes.subarray(this.#consumed))) !== undefined, what);
    const out = this.#bytes.subarray(this.#consumed, this.#consumed + end!);
    this.#consumed += end!;
    return out;
  }
}

/** Resolves once `read` has returned the same value for `stableMs`. */
async function settled(read: () => number, stableMs: number): Promise<void> {
  let last = read();
  let since = Date.now();
  await eventually(() => {
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
    return Date.now() - since >= stableMs;
  }, 'the value settles', 15_000);
}

test('SPDY/3.1+portforward.k8s.io gets exactly that header in the 101, and frames pass unchanged', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const socket = connect(Number(new URL(cp.url).port), '127.0.0.1');
  t.teardown(() => socket.destroy());
  const reader = new RawReader(socket);
  socket.write(
    `GET /clusters/edge-lab${PORTFORWARD_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kubectl/v1.32.4\r\n` +
      `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n',
  );
  const head = await reader.until((bytes) => {
    const end = bytes.indexOf('\r\n\r\n');
    return end === -1 ? undefined : end + 4;
  }, 'the 101 head');
  t.is(
    head.toString('latin1'),
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n`,
  );
  const start = await agent.next('proxy_websocket_start');
  t.deepEqual(start.payload, {
    stream_id: 'ws-1',
    method: 'GET',
    path: PORTFORWARD_PATH,
    headers: { 'User-Agent': ['kubectl/v1.32.4'], 'Sec-Websocket-Protocol': ['SPDY/3.1+portforward.k8s.io'], Authorization: ['Bearer sa-token-1'] },
  });

  // a SPDY SYN_STREAM header as kubectl would send it: the control plane must not care what it is
  const synStream = Buffer.from([0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  socket.write(maskedFrame(2, synStream));
  t.is((await agent.next('proxy_websocket_data')).payload['data'], framed(2, synStream));
  const synReply = Buffer.from([0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01]);
  agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: framed(2, synReply) }, 'ws-1');
  const frame = await reader.until((bytes) => (bytes.length >= 2 + synReply.length ? 2 + synReply.length : undefined), 'the relayed frame');
  t.deepEqual(frame, Buffer.concat([Buffer.from([0x82, synReply.length]), synReply]));

  socket.write(maskedFrame(8, Buffer.from([0x03, 0xe8])));
  t.deepEqual((await agent.next('proxy_websocket_close')).payload, { stream_id: 'ws-1' });
});

test('a backed-up agent socket pauses reading kubectl; nothing is lost or reordered after it drains', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const client = new WebSocket(`${cp.clusterUrl('edge-lab').replace(/^http/, 'ws')}${PORTFORWARD_PATH}`, ['portforward.k8s.io']);
  t.teardown(() => client.terminate());
  await new Promise((resolve) => client.once('open', resolve));
  await agent.next('proxy_websocket_start');
  agent.ws.pause();
  const frameSize = 256 * 1024;
  const frames = 192; // 48 MiB: far beyond what socket buffers and the 4 MiB mark can hold
  for (let i = 0; i < frames; i++) {
    const chunk = Buffer.alloc(frameSize, i & 0xff);
    chunk.writeUInt32BE(i, 0);
    client.send(chunk, { binary: true });
  }
  // Without the pause the control plane would read everything into its own memory and the client's
  // queue would empty (measured: within about a second); paused, it settles with most data still waiting.
  await settled(() => client.bufferedAmount, 1500);
  t.true(client.bufferedAmount > 16 * 1024 * 1024, `client still holds ${client.bufferedAmount} bytes`);
  agent.ws.resume();
  for (let i = 0; i < frames; i++) {
    const message = await agent.next('proxy_websocket_data', 20_000);
    const bytes = Buffer.from(message.payload['data'] as string, 'base64');
    if (bytes.length !== frameSize + 1 || bytes[0] !== 2 || bytes.readUInt32BE(1) !== i) {
      t.fail(`frame ${i} arrived out of order or damaged`);
      return;
    }
  }
  t.is(client.bufferedAmount, 0);
});
