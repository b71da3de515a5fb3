// Boolean query values as kube-apiserver converts them (runtime.Convert_Slice_string_To_bool): absent is
// false, "0" and "false" in any case are false, everything else is true. Both the sandbox API and the
// local control plane (which must know a watch or a followed log to stream it) read them this way.

import test from 'ava';
import { isWatchOrFollow } from '../../../src/local/control-plane/kubectl-endpoint.js';
import { parseQueryBool, queryFlag } from '../../../src/local/query-bool.js';

const PARSE_BOOL_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const PARSE_BOOL_FALSE_ALSO_FALSE_HERE = ['0', 'false', 'False', 'FALSE'];

test('every strconv.ParseBool true form is true; 0 and false in any case are false; absent is false', (t) => {
  for (const value of PARSE_BOOL_TRUE) t.true(parseQueryBool(value), value);
  for (const value of [...PARSE_BOOL_FALSE_ALSO_FALSE_HERE, 'fAlSe']) t.false(parseQueryBool(value), value);
  t.false(parseQueryBool(null));
});

test('the apiserver, unlike ParseBool, takes f, F, the empty string and any other word as true', (t) => {
  for (const value of ['f', 'F', '', 'yes', 'no']) t.true(parseQueryBool(value), JSON.stringify(value));
});

test('queryFlag reads the first value of a parameter', (t) => {
  t.true(queryFlag(new URLSearchParams('tty=True&tty=false'), 'tty'));
  t.false(queryFlag(new URLSearchParams('stdin=0'), 'stdin'));
  t.false(queryFlag(new URLSearchParams('stdout=1'), 'stdin'));
  t.true(queryFlag(new URLSearchParams('watch'), 'watch'), 'a bare key is the empty string: true');
});

test('the control plane streams watch and follow in every true form', (t) => {
  for (const value of PARSE_BOOL_TRUE) {
    t.true(isWatchOrFollow(`watch=${value}`), `watch=${value}`);
    t.true(isWatchOrFollow(`follow=${value}&tailLines=1`), `follow=${value}`);
  }
  for (const value of PARSE_BOOL_FALSE_ALSO_FALSE_HERE) t.false(isWatchOrFollow(`watch=${value}&follow=${value}`), value);
  t.false(isWatchOrFollow('labelSelector=app%3Dweb'));
});
