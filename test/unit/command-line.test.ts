// The one command-line parser (src/command-line.ts): both flag forms, switches, the option terminator,
// a flag taken for a value, problems in argument order without values, and help built from the tables.

import test from 'ava';
import { describeFlagProblem, parseFlags, renderHelp, type FlagSpec } from '../../src/command-line.js';

const FLAGS: readonly FlagSpec[] = [
  { name: '--port', value: 'N', description: 'Port' },
  { name: '--kubeconfig', value: 'PATH', description: 'Where the kubeconfig goes' },
  { name: '--tls', description: 'Serve TLS' },
];

test('both flag forms and switches; a repeated flag keeps its last value; help and version are recognised', (t) => {
  const parsed = parseFlags(FLAGS, ['--port', '8080', '--kubeconfig=/k', '--tls', '--port=9090', '-h', '--version']);
  t.deepEqual([...parsed.values], [['--port', '9090'], ['--kubeconfig', '/k'], ['--tls', true]]);
  t.deepEqual(parsed.problems, []);
  t.true(parsed.isHelp);
  t.true(parsed.isVersion);
});

test('a value may be "-" but not a flag; the flag taken for a value is read again', (t) => {
  t.deepEqual([...parseFlags(FLAGS, ['--kubeconfig', '-']).values], [['--kubeconfig', '-']]);
  const parsed = parseFlags(FLAGS, ['--port', '--tls']);
  t.deepEqual(parsed.problems, [{ kind: 'missing-value', arg: '--port' }]);
  t.deepEqual([...parsed.values], [['--tls', true]]);
  t.deepEqual(parseFlags(FLAGS, ['--port=']).problems, [{ kind: 'missing-value', arg: '--port' }]);
});

test('problems come in argument order and never carry a value', (t) => {
  const parsed = parseFlags(FLAGS, ['--prot=secret-value', 'extra', '--tls=yes', '-x', '--kubeconfig']);
  t.deepEqual(parsed.problems.map((problem) => describeFlagProblem(problem, FLAGS)), [
    'unknown flag --prot (did you mean --port?)',
    'unexpected argument "extra"',
    '--tls: takes no value',
    'unknown flag -x',
    '--kubeconfig: requires a value',
  ]);
  t.false(JSON.stringify(parsed.problems).includes('secret-value'));
});

test('after --, arguments are neither flags nor problems; positionals may be ignored on request', (t) => {
  const parsed = parseFlags(FLAGS, ['--tls', '--', '--port', '1']);
  t.deepEqual(parsed.problems, []);
  t.deepEqual([...parsed.values], [['--tls', true]]);
  t.deepEqual(parseFlags(FLAGS, ['run', '--tls'], { isPositionalIgnored: true }).problems, []);
});

test('help lists every flag with its placeholder and every env var with its default', (t) => {
  const help = renderHelp({
    name: 'x',
    summary: 'pipeops-agent x: a command.',
    usage: 'pipeops-agent x [--port N]',
    flags: FLAGS,
    env: [{ name: 'LOG_LEVEL', description: 'The log level', default: 'info' }, { name: 'NEEDED', description: 'Must be set', default: 'required' }],
  });
  t.regex(help, /^ {2}--port N +Port$/m);
  t.regex(help, /^ {2}--tls +Serve TLS$/m);
  t.regex(help, /^ {2}-h, --help +Show this help and exit$/m);
  t.regex(help, /^ {2}LOG_LEVEL +The log level \(default: info\)$/m);
  t.regex(help, /^ {2}NEEDED +Must be set \(required\)$/m);
});
