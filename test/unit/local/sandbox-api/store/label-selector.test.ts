// Label selector parsing and matching of the sandbox API, against the apiserver's semantics and messages.

import test from 'ava';
import { LabelSelectorError, labelsMatch, parseLabelSelector, SelectorOperator } from '../../../../../src/local/sandbox-api/store/label-selector.js';

const LABELS = { app: 'web', tier: 'front', 'example.com/team': 'a' };

function matches(selector: string, labels: Record<string, string> = LABELS): boolean {
  return labelsMatch(parseLabelSelector(selector), labels);
}

test('parses every operator into requirements', (t) => {
  t.deepEqual(parseLabelSelector('a=1, b==2,c!=3,d in (x, y),e notin (z),f,!g'), [
    { key: 'a', operator: SelectorOperator.equals, values: ['1'] },
    { key: 'b', operator: SelectorOperator.doubleEquals, values: ['2'] },
    { key: 'c', operator: SelectorOperator.notEquals, values: ['3'] },
    { key: 'd', operator: SelectorOperator.in, values: ['x', 'y'] },
    { key: 'e', operator: SelectorOperator.notIn, values: ['z'] },
    { key: 'f', operator: SelectorOperator.exists, values: [] },
    { key: 'g', operator: SelectorOperator.doesNotExist, values: [] },
  ]);
  t.deepEqual(parseLabelSelector(''), []);
  t.deepEqual(parseLabelSelector('a='), [{ key: 'a', operator: SelectorOperator.equals, values: [''] }]);
});

test('matches equality, sets and existence like the apiserver', (t) => {
  t.true(matches('app=web'));
  t.true(matches('app==web,tier=front'));
  t.false(matches('app=db'));
  t.true(matches('app!=db'));
  t.true(matches('missing!=x'), 'a missing key satisfies !=');
  t.true(matches('app in (db,web)'));
  t.false(matches('app in (db)'));
  t.false(matches('missing in (x)'));
  t.true(matches('app notin (db)'));
  t.true(matches('missing notin (x)'), 'a missing key satisfies notin');
  t.false(matches('app notin (web)'));
  t.true(matches('example.com/team'));
  t.false(matches('missing'));
  t.true(matches('!missing'));
  t.false(matches('!app'));
});

test('compares integers with gt and lt', (t) => {
  t.true(matches('n>3', { n: '5' }));
  t.false(matches('n<3', { n: '5' }));
  t.false(matches('n>3', { n: 'x' }));
  t.false(matches('n>3', {}));
});

test('rejects malformed selectors with the apiserver messages', (t) => {
  const badValue = t.throws(() => parseLabelSelector('app=a b'), { instanceOf: LabelSelectorError });
  t.is(badValue.message, "found 'b', expected: ',' or 'end of string'");
  const badKey = t.throws(() => parseLabelSelector('-app=x'), { instanceOf: LabelSelectorError });
  t.is(
    badKey.message,
    `unable to parse requirement: key: Invalid value: "-app": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
  );
  const badSetValue = t.throws(() => parseLabelSelector('app in (a,-b)'), { instanceOf: LabelSelectorError });
  t.true(badSetValue.message.startsWith('unable to parse requirement: values[1][app]: Invalid value: "-b": a valid label must be'));
  t.throws(() => parseLabelSelector('app in a'), { message: "found 'a', expected: '('" });
  t.throws(() => parseLabelSelector('n>x'), { instanceOf: LabelSelectorError });
});
