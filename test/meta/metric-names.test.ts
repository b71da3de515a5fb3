// Keeps the metric catalog within the naming rules (STYLE.md §2 Metrics) and docs/metrics.md listing
// exactly the catalog's metrics, with the same type and labels.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { METRICS, REFERENCE_AGENT_NAMES, type MetricSpec } from '../../src/metrics/catalog.js';

// dist/test/meta/ → repo root.
const ROOT = new URL('../../../', import.meta.url);
const DOCS = readFileSync(new URL('docs/metrics.md', ROOT), 'utf8');
const SPECS: readonly MetricSpec[] = Object.values(METRICS);

const PREFIX = 'pipeops_agent_';
/** Closed on purpose: a new label name is a design decision, made here, never a typo in a call site. */
const LABEL_ALLOWLIST: ReadonlySet<string> = new Set([
  'state', 'type', 'outcome', 'mode', 'reason', 'kind', 'pool', 'code', 'direction', 'protocol',
]);
/** Units other than the base ones Prometheus asks for (seconds, bytes). */
const FOREIGN_UNITS = /_(ms|millis|milliseconds|us|microseconds|ns|minutes|hours|days|kb|kib|mb|mib|gb|gib)(_|$)/;
const DURATION_WORDS = /(^|_)(duration|latency|elapsed|wait|age|uptime)(_|$)/;
const SIZE_WORDS = /(^|_)(byte|bytes|payload|body_size|message_size|frame_size)(_|$)/;
/** What a histogram may measure: time, size, or a unitless ratio. */
const HISTOGRAM_UNITS = /_(seconds|bytes|ratio)$/;

function baseName(name: string): string {
  return name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

test('the catalog has metrics, each with a unique name and a help text', (t) => {
  t.true(SPECS.length > 0);
  t.is(new Set(SPECS.map((spec) => spec.name)).size, SPECS.length, 'duplicate metric name');
  for (const spec of SPECS) t.true(spec.help.trim().length > 0, `${spec.name} has no help text`);
});

test('every name is snake_case with the pipeops_agent_ prefix (reference-agent names excepted)', (t) => {
  for (const { name } of SPECS) {
    if (!REFERENCE_AGENT_NAMES.has(name)) t.true(name.startsWith(PREFIX), `${name} lacks the ${PREFIX} prefix`);
    t.regex(name, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, `${name} is not snake_case`);
  }
});

test('counters and only counters end in _total', (t) => {
  for (const { name, type } of SPECS) {
    if (REFERENCE_AGENT_NAMES.has(name)) continue;
    t.is(name.endsWith('_total'), type === 'counter', `${name} (${type})`);
  }
});

test('durations are in _seconds, sizes in _bytes, and no other unit appears', (t) => {
  for (const { name, type } of SPECS) {
    const base = baseName(name);
    t.false(FOREIGN_UNITS.test(base), `${name} uses a unit other than seconds or bytes`);
    if (DURATION_WORDS.test(base)) t.true(base.endsWith('_seconds'), `${name} is a duration: end it in _seconds`);
    if (SIZE_WORDS.test(base)) t.true(base.endsWith('_bytes'), `${name} is a size: end it in _bytes`);
    if (type === 'histogram') t.regex(base, HISTOGRAM_UNITS, `${name} is a histogram without a unit`);
  }
});

test('the reference-agent exceptions are few and all in the catalog', (t) => {
  const names = new Set(SPECS.map((spec) => spec.name));
  t.true(REFERENCE_AGENT_NAMES.size <= 3);
  for (const name of REFERENCE_AGENT_NAMES) t.true(names.has(name), name);
});

test('labels come from the closed allowlist, and only histograms have buckets', (t) => {
  for (const spec of SPECS) {
    t.is(new Set(spec.labels).size, spec.labels.length, `${spec.name} repeats a label`);
    for (const label of spec.labels) t.true(LABEL_ALLOWLIST.has(label), `${spec.name} uses label "${label}"`);
    t.is(spec.buckets !== undefined, spec.type === 'histogram', `${spec.name} buckets`);
  }
});

interface DocumentedMetric {
  readonly name: string;
  readonly type: string;
  readonly labels: readonly string[];
}

/** Rows of the docs' metric tables: `| \`name\` | type | \`label\`, … or — | meaning |`. */
function documentedMetrics(): DocumentedMetric[] {
  const rows = DOCS.split('\n').filter((line) => /^\| `[a-z_:][a-z0-9_:]*` \|/.test(line));
  return rows
    .map((line) => line.split('|').slice(1, 4).map((cell) => cell.trim()))
    .filter(([, type]) => type === 'counter' || type === 'gauge' || type === 'histogram')
    .map(([nameCell = '', type = '', labelCell = '']) => ({
      name: nameCell.replaceAll('`', ''),
      type,
      labels: [...labelCell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''),
    }));
}

test('docs/metrics.md lists exactly the catalog metrics, with their type and labels', (t) => {
  const byName = (a: DocumentedMetric, b: DocumentedMetric): number => a.name.localeCompare(b.name);
  const documented = documentedMetrics().sort(byName);
  const catalog = SPECS.map((spec) => ({ name: spec.name, type: spec.type, labels: [...spec.labels] })).sort(byName);
  t.deepEqual(
    documented.map((metric) => metric.name),
    catalog.map((metric) => metric.name),
  );
  t.deepEqual(documented, catalog);
});
