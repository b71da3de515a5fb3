// The single prom-client registry of the main thread, built from the catalog. Callers use typed helpers,
// never metric names, so a label typo cannot create a new series. Gauges may instead be read at scrape time.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRICS, type CounterKey, type GaugeKey, type HistogramKey, type LabelArgs, type MetricKey, type MetricLabels } from './catalog.js';

const MAX_TYPE_LABELS = 32;

type LabelValues = Record<string, string>;

/** What the pool gauges read; the actor host satisfies it without this module importing the pool. */
export interface PoolGaugeSource {
  readonly threads: number;
  readonly queueSize: number;
  readonly activeActors: number;
}

interface ScrapeReader {
  readonly labels: LabelValues;
  readonly read: () => number;
}

/** Scrape-time readers by gauge and label set: prom-client calls `collect` with the gauge as `this`. */
const SCRAPE_READERS = new WeakMap<Gauge, Map<string, ScrapeReader>>();

function gaugeOnCollect(this: Gauge): void {
  const readers = SCRAPE_READERS.get(this);
  if (readers === undefined) return;
  for (const { labels, read } of readers.values()) this.set(labels, read());
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #counters = new Map<MetricKey, Counter>();
  readonly #gauges = new Map<MetricKey, Gauge>();
  readonly #histograms = new Map<MetricKey, Histogram>();
  readonly #seenTypes = new Set<string>();

  constructor() {
    for (const [key, spec] of Object.entries(METRICS) as [MetricKey, (typeof METRICS)[MetricKey]][]) {
      const common = { name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [this.registry] };
      if (spec.type === 'counter') this.#counters.set(key, new Counter(common));
      else if (spec.type === 'gauge') this.#gauges.set(key, new Gauge({ ...common, collect: gaugeOnCollect }));
      else this.#histograms.set(key, new Histogram({ ...common, buckets: [...spec.buckets] }));
    }
  }

  // The catalog's types make every call name a metric of the right kind with exactly its labels.
  inc<K extends CounterKey>(key: K, ...[labels = {}, value = 1]: LabelArgs<K, [value?: number]>): void {
    this.#counters.get(key)!.inc(labels as LabelValues, value);
  }

  set<K extends GaugeKey>(key: K, value: number, ...[labels = {}]: LabelArgs<K, []>): void {
    this.#gauges.get(key)!.set(labels as LabelValues, value);
  }

  observe<K extends HistogramKey>(key: K, value: number, ...[labels = {}]: LabelArgs<K, []>): void {
    this.#histograms.get(key)!.observe(labels as LabelValues, value);
  }

  /**
   * Makes a gauge take its value from `read` at every scrape (and every `value()` call), so state owned
   * elsewhere, such as pool sizes, costs nothing between scrapes. A later call replaces the reader.
   */
  collectOnScrape<K extends GaugeKey>(key: K, read: () => number, ...[labels = {}]: LabelArgs<K, []>): void {
    const gauge = this.#gauges.get(key)!;
    let readers = SCRAPE_READERS.get(gauge);
    if (readers === undefined) SCRAPE_READERS.set(gauge, (readers = new Map()));
    readers.set(JSON.stringify(labels), { labels, read });
  }

  /** Reads threads, waiting requests and active actors of one pool (`pool` label) at scrape time. */
  observePool(pool: string, source: PoolGaugeSource): void {
    this.collectOnScrape('poolThreads', () => source.threads, { pool });
    this.collectOnScrape('poolQueueSize', () => source.queueSize, { pool });
    this.collectOnScrape('poolActiveActors', () => source.activeActors, { pool });
  }

  /** Counts an unknown message type with a bounded label set. */
  countUnknownType(type: string): void {
    let label = type.slice(0, 64);
    if (!this.#seenTypes.has(label)) {
      if (this.#seenTypes.size >= MAX_TYPE_LABELS) label = 'other';
      else this.#seenTypes.add(label);
    }
    this.inc('unknownMessageType', { type: label });
  }

  /** Current value of a counter or gauge series (tests and /ready read it). */
  async value<K extends CounterKey | GaugeKey>(key: K, labels: Partial<MetricLabels<K>> = {}): Promise<number> {
    const metric = this.#counters.get(key) ?? this.#gauges.get(key);
    if (metric === undefined) return 0;
    const data = await metric.get();
    const wanted = Object.entries(labels);
    let sum = 0;
    for (const sample of data.values) {
      if (wanted.every(([name, value]) => sample.labels[name] === value)) sum += sample.value;
    }
    return sum;
  }
}
