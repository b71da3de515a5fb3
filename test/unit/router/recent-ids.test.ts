// The router's bounded memory of finished request ids: a late message is told from an unknown one, and
// the memory never grows past its capacity.

import test from 'ava';
import { RecentIds } from '../../../src/router/recent-ids.js';

test('remembers ids up to its capacity and forgets the oldest first', (t) => {
  const ids = new RecentIds(2);
  ids.add('a');
  ids.add('b');
  t.true(ids.has('a') && ids.has('b'));
  ids.add('c');
  t.false(ids.has('a'));
  t.true(ids.has('b') && ids.has('c'));
  t.false(ids.has('never'));
});

test('adding an id again makes it the newest, so it outlives ids added after it first', (t) => {
  const ids = new RecentIds(2);
  ids.add('a');
  ids.add('b');
  ids.add('a');
  ids.add('c');
  t.true(ids.has('a'));
  t.false(ids.has('b'));
});
