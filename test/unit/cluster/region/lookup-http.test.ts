// The HTTP side of the registration lookups against a loopback stand-in: 2xx bodies only, a body cap,
// JSON or a coded failure, the text-field rules, and one shared deadline on a simulated clock.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { LookupDeadline, MAX_LOOKUP_BODY_BYTES, fetchJson, fetchText, textField } from '../../../../src/cluster/region/lookup-http.js';
import { ErrorCode } from '../../../../src/errors.js';
import { SimulatedClock } from '../../../helpers/simulated-clock.js';

async function lookupServer(t: ExecutionContext): Promise<string> {
  const server = http.createServer((request, response) => {
    if (request.url === '/text') return response.end('eu-west-1');
    if (request.url === '/json') return response.end('{"country":"NG"}');
    if (request.url === '/huge') return response.end(Buffer.alloc(MAX_LOOKUP_BODY_BYTES + 1, 0x61));
    if (request.url === '/cap') return response.end(Buffer.alloc(MAX_LOOKUP_BODY_BYTES, 0x61));
    if (request.url === '/hang') return; // never answers; the test aborts it
    response.writeHead(503).end('busy');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const signal = (): AbortSignal => new AbortController().signal;

test('a 2xx body comes back as text or JSON; any other status rejects with upstream-failed', async (t) => {
  const base = await lookupServer(t);
  t.is(await fetchText({ url: `${base}/text`, signal: signal() }), 'eu-west-1');
  t.deepEqual(await fetchJson({ url: `${base}/json`, signal: signal() }), { country: 'NG' });
  await t.throwsAsync(fetchText({ url: `${base}/other`, signal: signal() }), { message: /answered 503/, any: true });
  const error = await t.throwsAsync(fetchJson({ url: `${base}/text`, signal: signal() }), { any: true });
  t.is((error as { code?: string } | undefined)?.code, ErrorCode.upstreamFailed);
});

test('bodies up to the cap are read; one byte more rejects as too large', async (t) => {
  const base = await lookupServer(t);
  t.is((await fetchText({ url: `${base}/cap`, signal: signal() })).length, MAX_LOOKUP_BODY_BYTES);
  const error = await t.throwsAsync(fetchText({ url: `${base}/huge`, signal: signal() }), { any: true });
  t.is((error as { code?: string } | undefined)?.code, ErrorCode.responseTooLarge);
});

test('textField: trimmed strings, finite numbers as text, blanks and other types absent', (t) => {
  const record = { name: '  Lagos ', asn: 64512, blank: '  ', nan: Number.NaN, flag: true, nothing: null };
  t.is(textField(record, 'name'), 'Lagos');
  t.is(textField(record, 'asn'), '64512');
  for (const key of ['blank', 'nan', 'flag', 'nothing', 'missing']) t.is(textField(record, key), undefined, key);
});

test('the deadline turns a hung lookup into undefined and aborts it; a failure is reported, not thrown', async (t) => {
  const base = await lookupServer(t);
  const clock = new SimulatedClock();
  const deadline = new LookupDeadline(clock, 5_000);
  t.teardown(() => deadline.finish());
  const hung = fetchText({ url: `${base}/hang`, signal: deadline.signal });
  hung.catch(() => undefined);
  const failures: unknown[] = [];
  const result = deadline.within(hung, (error) => failures.push(error));
  // a lookup that ignores the signal is given up at the deadline too
  const deaf = deadline.within(new Promise<string | undefined>(() => undefined), (error) => failures.push(error));
  const failed = await deadline.within(Promise.reject(new Error('refused')), (error) => failures.push(error));
  t.is(failed, undefined);
  t.is(failures.length, 1);
  clock.advance(5_000);
  t.is(await result, undefined);
  t.is(await deaf, undefined);
  t.true(deadline.signal.aborted);
  await t.throwsAsync(hung, { any: true });
});

test('signalWithin fires at its own timeout or at the deadline, whichever is first', (t) => {
  const clock = new SimulatedClock();
  const deadline = new LookupDeadline(clock, 5_000);
  const short = deadline.signalWithin(1_000);
  const long = deadline.signalWithin(60_000);
  clock.advance(1_000);
  t.true(short.aborted);
  t.false(long.aborted);
  clock.advance(4_000);
  t.true(long.aborted);
  deadline.finish();
});

test('finish stops the timers and aborts what is still running', (t) => {
  const clock = new SimulatedClock();
  const deadline = new LookupDeadline(clock, 5_000);
  deadline.signalWithin(1_000);
  deadline.finish();
  t.true(deadline.signal.aborted);
  t.is(clock.pendingTimers, 0);
});
