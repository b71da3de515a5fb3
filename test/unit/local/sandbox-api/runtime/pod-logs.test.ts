// Pod logs without a socket: the ring buffer, RFC 3339Nano timestamps, option parsing with the
// apiserver's Status messages, and which lines tail/since select.

import test from 'ava';
import { ApiStatusError } from '../../../../../src/local/sandbox-api/http/api-status.js';
import { demoTickLine } from '../../../../../src/local/sandbox-api/runtime/demo-ticker.js';
import { PodLogBuffer, formatRfc3339Nano, nowNs, type LogLine } from '../../../../../src/local/sandbox-api/runtime/pod-log-buffer.js';
import { parseLogOptions, renderLine, selectLines } from '../../../../../src/local/sandbox-api/streams/pod-logs.js';
import type { PodStreamTarget } from '../../../../../src/local/sandbox-api/streams/pod-stream-handler.js';

const SECOND = 1_000_000_000n;

function target(query: string, containers: string[] = ['demo'], initContainers: string[] = []): PodStreamTarget {
  return {
    subresource: 'log',
    namespace: 'default',
    name: 'demo',
    method: 'GET',
    query: new URLSearchParams(query),
    pod: { spec: { containers: containers.map((name) => ({ name })), initContainers: initContainers.map((name) => ({ name })) } },
  };
}

function statusOf(run: () => unknown): { code: number; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiStatusError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a Status error');
}

test('RFC 3339Nano drops trailing zeros of the fraction, like Go', (t) => {
  t.is(formatRfc3339Nano(1_700_000_000n * SECOND + 123_456_789n), '2023-11-14T22:13:20.123456789Z');
  t.is(formatRfc3339Nano(1_700_000_000n * SECOND + 120_000_000n), '2023-11-14T22:13:20.12Z');
  t.is(formatRfc3339Nano(1_700_000_000n * SECOND), '2023-11-14T22:13:20Z');
});

test('timestamps are strictly increasing', (t) => {
  const first = nowNs();
  t.true(nowNs() > first);
});

test('the ring keeps the newest lines and tells subscribers, then ends them', (t) => {
  const log = new PodLogBuffer(3);
  const seen: string[] = [];
  let ended = 0;
  const unsubscribe = log.subscribe((line) => seen.push(line.text), () => (ended += 1));
  for (const n of [1, 2, 3, 4]) log.append(`${demoTickLine(n)}\n`);
  t.deepEqual(log.lines().map((line) => line.text), ['2 demo tick', '3 demo tick', '4 demo tick']);
  t.deepEqual(seen, ['1 demo tick', '2 demo tick', '3 demo tick', '4 demo tick']);
  log.end();
  log.end();
  log.append('after the end');
  t.is(ended, 1);
  t.is(log.lines().length, 3);
  unsubscribe();
  t.is(log.subscriberCount, 0);
});

test('options: the only container is chosen; bad containers and values are the apiserver errors', (t) => {
  t.like(parseLogOptions(target('follow=true&tailLines=2&timestamps=1&limitBytes=10')), { container: 'demo', follow: true, tailLines: 2, timestamps: true, limitBytes: 10 });
  t.is(parseLogOptions(target('follow=false')).follow, false);
  t.deepEqual(statusOf(() => parseLogOptions(target('', ['a', 'b'], ['init']))), {
    code: 400,
    message: 'a container name must be specified for pod demo, choose one of: [a b] or one of the init containers: [init]',
  });
  t.deepEqual(statusOf(() => parseLogOptions(target('', ['a', 'b']))), { code: 400, message: 'a container name must be specified for pod demo, choose one of: [a b]' });
  t.deepEqual(statusOf(() => parseLogOptions(target('container=nope'))), { code: 400, message: 'container nope is not valid for pod demo' });
  t.deepEqual(statusOf(() => parseLogOptions(target('tailLines=-1'))), {
    code: 422,
    message: 'PodLogOptions "demo" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
  });
  t.deepEqual(statusOf(() => parseLogOptions(target('limitBytes=0&sinceSeconds=0'))), {
    code: 422,
    message: 'PodLogOptions "demo" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]',
  });
  t.is(statusOf(() => parseLogOptions(target('tailLines=x'))).message, 'strconv.ParseInt: parsing "x": invalid syntax');
  t.is(parseLogOptions(target('container=b', ['a', 'b'])).container, 'b');
});

test('selection: tail first, then since, as the kubelet reads the file', (t) => {
  const now = 1_700_000_100n * SECOND;
  const lines: LogLine[] = [90n, 95n, 98n, 99n].map((offset, index) => ({ timeNs: 1_700_000_000n * SECOND + offset * SECOND, text: `line ${index}` }));
  const base = parseLogOptions(target(''));
  t.is(selectLines(lines, base, now).length, 4);
  t.deepEqual(selectLines(lines, { ...base, tailLines: 2 }, now).map((line) => line.text), ['line 2', 'line 3']);
  t.deepEqual(selectLines(lines, { ...base, tailLines: 0 }, now), []);
  t.deepEqual(selectLines(lines, { ...base, sinceSeconds: 3 }, now).map((line) => line.text), ['line 2', 'line 3']);
  t.deepEqual(selectLines(lines, { ...base, tailLines: 3, sinceSeconds: 6 }, now).map((line) => line.text), ['line 1', 'line 2', 'line 3']);
  t.is(renderLine(lines[0] ?? { timeNs: 0n, text: '' }, true), '2023-11-14T22:14:50Z line 0\n');
});
