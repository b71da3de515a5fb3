// The relay core's pieces that need no control plane: close-frame limits of §13.6 and TCP keepalive on
// the dialled upstream socket.

import test from 'ava';
import http from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { sanitizeClose } from '../../workers/lib/ws-relay.js';
import { TCP_KEEPALIVE_DELAY_MS, dialKubeWebSocket } from '../../workers/lib/kube-websocket-dial.js';

const closePayload = (code: number, reason: Buffer | string = ''): Buffer => {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(code);
  return Buffer.concat([bytes, Buffer.from(reason)]);
};

test('§13.6: a close reason over 123 bytes is cut at a UTF-8 boundary and keeps its code', (t) => {
  const reason = 'ab' + 'é'.repeat(100); // 2 + 200 bytes: byte 123 is the first half of a two-byte sequence
  const { code, reason: cut } = sanitizeClose(closePayload(4001, reason));
  t.is(code, 4001);
  t.is(cut!.length, 122);
  t.is(cut!.toString('utf8'), 'ab' + 'é'.repeat(60));
  const ascii = sanitizeClose(closePayload(1001, 'x'.repeat(200)));
  t.is(ascii.code, 1001);
  t.is(ascii.reason!.length, 123);
});

test('§13.6: an empty or 1-byte close payload or an invalid code is sent as 1000', (t) => {
  t.deepEqual(sanitizeClose(Buffer.alloc(0)), { code: 1000, reason: undefined });
  t.deepEqual(sanitizeClose(Buffer.from([0x03])), { code: 1000, reason: undefined });
  for (const invalid of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000]) t.is(sanitizeClose(closePayload(invalid, 'bye')).code, 1000, String(invalid));
  t.deepEqual(sanitizeClose(closePayload(1000, 'bye')), { code: 1000, reason: Buffer.from('bye') });
});

test('the dialled upstream socket has TCP keepalive on', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const accepted = new Promise<WebSocket>((resolve) => wss.on('connection', (ws) => resolve(ws)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    server.close();
  });
  const calls: { socket: Socket; isEnabled: boolean; delayMs: number | undefined }[] = [];
  const original = Socket.prototype.setKeepAlive;
  Socket.prototype.setKeepAlive = function (this: Socket, isEnabled?: boolean, delayMs?: number) {
    calls.push({ socket: this, isEnabled: isEnabled === true, delayMs });
    return original.call(this, isEnabled, delayMs);
  };
  t.teardown(() => (Socket.prototype.setKeepAlive = original));
  const port = (server.address() as AddressInfo).port;
  const dialed = await dialKubeWebSocket({
    origin: new URL(`http://127.0.0.1:${port}`),
    target: '/chat',
    headers: {},
    offer: [],
    tls: { rejectUnauthorized: false },
    timeoutMs: 10_000,
    maxPayload: 1024,
  });
  t.teardown(() => dialed.socket.terminate());
  const serverSide = (await accepted) as unknown as { _socket: Socket };
  const clientPort = serverSide._socket.remotePort;
  const mine = calls.filter((call) => call.socket.localPort === clientPort);
  t.true(mine.some((call) => call.isEnabled && call.delayMs === TCP_KEEPALIVE_DELAY_MS), JSON.stringify(mine.map((c) => [c.isEnabled, c.delayMs])));
});
