import test from 'ava';
import { ReconnectBackoff } from '../../../src/link/reconnect-backoff.js';

test('C27: waits double from 0.5 s to 60 s, each within [d, 1.25·d)', (t) => {
  const nominal = [500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000];
  const low = new ReconnectBackoff(() => 0);
  t.deepEqual(nominal.map(() => low.next()), nominal);
  const high = new ReconnectBackoff(() => 0.999_999);
  for (const delay of nominal) {
    const wait = high.next();
    t.true(wait >= delay && wait < delay * 1.25, `${wait} within [${delay}, ${delay * 1.25})`);
  }
});

test('C27: reset returns to 0.5 s after a successful handshake', (t) => {
  const backoff = new ReconnectBackoff(() => 0);
  backoff.next();
  backoff.next();
  backoff.reset();
  t.is(backoff.next(), 500);
});
