// Rules of kubectl WebSocket sessions that need no I/O: the session path check (§13.2), the subprotocols
// offered upstream (§13.5), and the [type][payload] relay framing (§10.3, §12.1).

import test from 'ava';
import {
  WsFrameType,
  collapseSlashes,
  encodeRelayFrame,
  isValidSessionPath,
  isWsFrameType,
  readRelayFrame,
  subprotocolOffer,
} from '../../../src/protocol/kube-session-rules.js';

test('§13.2: Kubernetes API roots pass, after collapsing repeated slashes', (t) => {
  for (const path of ['/api/v1/namespaces/a/pods/p/exec', '/apis/apps/v1', '/version', '/healthz', '/readyz', '/livez', '/openapi/v3', '//api//v1/pods']) {
    t.true(isValidSessionPath(path), path);
  }
  t.is(collapseSlashes('//api///v1//pods'), '/api/v1/pods');
});

test('§13.2: other roots, .. segments, %, backslash, CR, LF and NUL are refused', (t) => {
  for (const path of [
    '/',
    '',
    '/apix/v1',
    '/metrics',
    'api/v1',
    '/api/v1/../../etc',
    '/api/..',
    '/api/v1/pods%2Fx',
    '/api/v1/pods\\x',
    '/api/v1\r\nHost: x',
    '/api/v1\nx',
    '/api/v1\0',
  ]) {
    t.false(isValidSessionPath(path), JSON.stringify(path));
  }
  t.true(isValidSessionPath('/api/v1/pods/a..b'), 'dots inside a segment are a name, not a parent');
});

test('§13.5: the control plane\'s subprotocols exactly, protocol first, trimmed, without blanks or duplicates', (t) => {
  const headers = { 'Sec-WebSocket-Protocol': [' v4.channel.k8s.io , v5.channel.k8s.io', ''], 'sec-websocket-protocol': ['v5.channel.k8s.io,,base64.channel.k8s.io'] };
  t.deepEqual(subprotocolOffer('v5.channel.k8s.io', headers, '/api/v1/namespaces/a/pods/p/exec'), {
    offer: ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'base64.channel.k8s.io'],
    isTransparent: true,
  });
  t.deepEqual(subprotocolOffer('', { 'Sec-WebSocket-Protocol': ['portforward.k8s.io'] }, '/api/v1/namespaces/a/pods/p/exec'), {
    offer: ['portforward.k8s.io'],
    isTransparent: true,
  });
});

test('§13.5: none named: the defaults for exec and attach, for portforward, and none for other paths', (t) => {
  const exec = subprotocolOffer('  ', {}, '/api/v1/namespaces/a/pods/p/exec');
  t.false(exec.isTransparent);
  t.is(exec.offer[0], 'v5.channel.k8s.io');
  t.true(exec.offer.includes('channel.k8s.io'));
  t.deepEqual(subprotocolOffer('', {}, '/api/v1/namespaces/a/pods/p/attach').offer, exec.offer);
  t.deepEqual(subprotocolOffer('', {}, '/api/v1/namespaces/a/pods/p/portforward'), {
    offer: ['SPDY/3.1+portforward.k8s.io', 'portforward.k8s.io'],
    isTransparent: false,
  });
  t.deepEqual(subprotocolOffer('', {}, '/api/v1/namespaces/a/pods/p/log'), { offer: [], isTransparent: false });
  t.deepEqual(subprotocolOffer('', {}, '/api/v1/namespaces/a/pods/executor'), { offer: [], isTransparent: false }, 'a whole segment, not a prefix');
  // each call gets its own list: changing one offer does not change the next
  exec.offer.push('extra');
  t.false(subprotocolOffer('', {}, '/api/v1/namespaces/a/pods/p/exec').offer.includes('extra'));
});

test('§12.1: a valid first byte frames the data; else a valid message_type is prepended; else unusable', (t) => {
  const framed = readRelayFrame(Buffer.from([2, 0x68, 0x69]), undefined);
  t.is(framed?.type, WsFrameType.binary);
  t.deepEqual([...(framed?.payload ?? [])], [0x68, 0x69]);
  const typed = readRelayFrame(Buffer.from('hi'), 1);
  t.is(typed?.type, WsFrameType.text);
  t.deepEqual(Buffer.from(typed?.payload ?? []).toString('utf8'), 'hi');
  t.is(readRelayFrame(Buffer.alloc(0), 2)?.type, WsFrameType.binary, 'empty data with a message_type');
  t.is(readRelayFrame(Buffer.alloc(0), undefined), undefined);
  t.is(readRelayFrame(Buffer.from('hi'), 3), undefined, '3 is no frame type');
  t.is(readRelayFrame(Buffer.from('hi'), '1'), undefined, 'message_type must be a number');
});

test('frame types are exactly text, binary, close, ping and pong; encodeRelayFrame is [type][payload] in base64', (t) => {
  t.deepEqual([...Array(12).keys()].filter(isWsFrameType), [1, 2, 8, 9, 10]);
  t.is(encodeRelayFrame(WsFrameType.text, Buffer.from('hi')), Buffer.from([1, 0x68, 0x69]).toString('base64'));
  t.is(encodeRelayFrame(WsFrameType.close, Buffer.alloc(0)), 'CA==');
});
