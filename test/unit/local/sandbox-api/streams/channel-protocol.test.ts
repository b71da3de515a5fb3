// The remote-command channel protocol, bytes in and bytes out: subprotocol choice, the channel prefix,
// v5's close signal, terminal sizes, and the exact Status bytes of the error channel (kube-apiserver's
// stream translator for v5, containerd's streaming server for v4).

import test from 'ava';
import {
  Channel,
  StreamProtocol,
  encodeFrame,
  exitCodeStatus,
  internalErrorStatus,
  negotiateProtocol,
  offeredProtocols,
  parseClientFrame,
  parseTerminalSizes,
  successStatus,
} from '../../../../../src/local/sandbox-api/streams/channel-protocol.js';

test('the first offered protocol the sandbox speaks wins, in the client order', (t) => {
  t.is(negotiateProtocol(offeredProtocols('v5.channel.k8s.io')), StreamProtocol.v5);
  t.is(negotiateProtocol(offeredProtocols('v4.channel.k8s.io, v5.channel.k8s.io')), StreamProtocol.v4);
  t.is(negotiateProtocol(offeredProtocols(['channel.k8s.io', 'v5.channel.k8s.io'])), StreamProtocol.v5);
  t.is(negotiateProtocol(offeredProtocols('channel.k8s.io,base64.channel.k8s.io')), undefined);
  t.is(negotiateProtocol(offeredProtocols('SPDY/3.1+portforward.k8s.io')), undefined);
  t.is(negotiateProtocol(offeredProtocols(undefined)), undefined);
  t.deepEqual(offeredProtocols(' a ,, b,'), ['a', 'b']);
});

test('a server frame is the channel byte followed by the payload', (t) => {
  t.deepEqual([...encodeFrame(Channel.stdout, 'hi')], [1, 0x68, 0x69]);
  t.deepEqual([...encodeFrame(Channel.stderr, Buffer.from([0, 255]))], [2, 0, 255]);
  t.deepEqual([...encodeFrame(Channel.stdout)], [1], 'the readiness frame is the bare channel byte');
});

test('client frames: data per channel, v5 close signal, ignored and invalid frames', (t) => {
  t.deepEqual(parseClientFrame(Buffer.from([0, 0x61, 0x62]), StreamProtocol.v5), { type: 'data', channel: 0, payload: Buffer.from('ab') });
  t.deepEqual(parseClientFrame(Buffer.from([4, 0x7b, 0x7d]), StreamProtocol.v4), { type: 'data', channel: 4, payload: Buffer.from('{}') });
  t.deepEqual(parseClientFrame(Buffer.from([255, 0]), StreamProtocol.v5), { type: 'close', channel: 0 });
  t.deepEqual(parseClientFrame(Buffer.from([]), StreamProtocol.v5), { type: 'ignored' });
  t.deepEqual(parseClientFrame(Buffer.from([7, 1]), StreamProtocol.v5), { type: 'ignored' }, 'channels above 4 are dropped');
  t.deepEqual(parseClientFrame(Buffer.from([255, 0]), StreamProtocol.v4), { type: 'ignored' }, 'v4 has no close signal');
  t.is(parseClientFrame(Buffer.from([255, 0, 1]), StreamProtocol.v5).type, 'invalid');
  t.is(parseClientFrame(Buffer.from([255]), StreamProtocol.v5).type, 'invalid');
  t.is(parseClientFrame(Buffer.from([255, 9]), StreamProtocol.v5).type, 'invalid');
});

test('terminal sizes: one or several JSON objects per payload, bad ones stop the decoding', (t) => {
  t.deepEqual(parseTerminalSizes(Buffer.from('{"Width":80,"Height":24}\n')), [{ width: 80, height: 24 }]);
  t.deepEqual(parseTerminalSizes(Buffer.from('{"Width":80,"Height":24}{"Width":120,"Height":40}')), [
    { width: 80, height: 24 },
    { width: 120, height: 40 },
  ]);
  t.deepEqual(parseTerminalSizes(Buffer.from('{"Width":-1,"Height":24}')), []);
  t.deepEqual(parseTerminalSizes(Buffer.from('not json{"Width":1,"Height":2}')), []);
});

test('Success is the bare metav1.Status json.Marshal writes', (t) => {
  t.is(successStatus().toString('utf8'), '{"metadata":{},"status":"Success"}');
});

test('NonZeroExitCode: the v5 translator wording and the v4 runtime wording', (t) => {
  const command = ['sh', '-c', 'exit 3'];
  t.is(
    exitCodeStatus(StreamProtocol.v5, command, 3).toString('utf8'),
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: command terminated with exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  );
  t.is(
    exitCodeStatus(StreamProtocol.v4, command, 3).toString('utf8'),
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  );
  t.regex(exitCodeStatus(StreamProtocol.v4, ['sh', '-c', 'echo a >&2'], 1).toString('utf8'), /\[sh -c echo a \\u003e\\u00262\]/, 'Go escapes > and &');
});

test('InternalError: the v5 path wraps the runtime error twice, as the translator does', (t) => {
  t.is(
    internalErrorStatus(StreamProtocol.v4, 'boom').toString('utf8'),
    '{"metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}',
  );
  t.is(
    internalErrorStatus(StreamProtocol.v5, 'boom').toString('utf8'),
    '{"metadata":{},"status":"Failure","message":"Internal error occurred: Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"Internal error occurred: boom"}]},"code":500}',
  );
});
