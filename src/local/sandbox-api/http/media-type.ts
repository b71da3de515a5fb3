// Media types on the wire: parsing Accept and Content-Type, and choosing what a response is rendered as
// (plain JSON or YAML, a Table, partial object metadata, aggregated discovery) the way the apiserver's
// content negotiation does: the client's first acceptable entry wins.

export interface MediaType {
  /** `application/json` */
  readonly essence: string;
  readonly params: Readonly<Record<string, string>>;
  readonly quality: number;
}

export function parseMediaType(text: string): MediaType {
  const [head = '', ...rest] = text.split(';');
  const params: Record<string, string> = {};
  let quality = 1;
  for (const part of rest) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const key = part.slice(0, at).trim().toLowerCase();
    const value = part.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
    if (key === 'q') quality = Number(value);
    else params[key] = value;
  }
  return { essence: head.trim().toLowerCase(), params, quality: Number.isNaN(quality) ? 0 : quality };
}

/** Accept entries in preference order (stable by position among equal q), q=0 dropped. */
export function parseAccept(header: string | undefined): MediaType[] {
  if (header === undefined || header.trim() === '') return [parseMediaType('*/*')];
  return header
    .split(',')
    .map(parseMediaType)
    .map((type, position) => ({ type, position }))
    .filter((entry) => entry.type.quality > 0)
    .sort((a, b) => b.type.quality - a.type.quality || a.position - b.position)
    .map((entry) => entry.type);
}

export const Rendering = {
  json: 'json',
  yaml: 'yaml',
  table: 'table',
  partialMetadata: 'partialMetadata',
} as const;
export type Rendering = (typeof Rendering)[keyof typeof Rendering];

export interface OutputChoice {
  readonly rendering: Rendering;
  /** for tables and partial metadata: `meta.k8s.io/v1` or `meta.k8s.io/v1beta1` */
  readonly metaApiVersion: string;
  /** the Content-Type header to answer with */
  readonly contentType: string;
}

function isJsonLike(type: MediaType): boolean {
  return type.essence === 'application/json' || type.essence === '*/*' || type.essence === 'application/*';
}

const META_VERSIONS = new Set(['v1', 'v1beta1']);

/** What a resource response is rendered as, or undefined when nothing acceptable is offered (406). */
export function chooseOutput(accept: readonly MediaType[]): OutputChoice | undefined {
  for (const type of accept) {
    const as = type.params['as'];
    if (as !== undefined) {
      const version = type.params['v'] ?? '';
      if (type.params['g'] !== 'meta.k8s.io' || !META_VERSIONS.has(version)) continue;
      if (type.essence !== 'application/json') continue;
      const metaApiVersion = `meta.k8s.io/${version}`;
      const contentType = `application/json;as=${as};g=meta.k8s.io;v=${version}`;
      if (as === 'Table') return { rendering: Rendering.table, metaApiVersion, contentType };
      if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') {
        return { rendering: Rendering.partialMetadata, metaApiVersion, contentType };
      }
      continue;
    }
    if (isJsonLike(type)) return { rendering: Rendering.json, metaApiVersion: '', contentType: 'application/json' };
    if (type.essence === 'application/yaml') return { rendering: Rendering.yaml, metaApiVersion: '', contentType: 'application/yaml' };
  }
  return undefined;
}

export const DiscoveryFormat = {
  aggregatedV2: 'aggregatedV2',
  aggregatedV2beta1: 'aggregatedV2beta1',
  legacy: 'legacy',
} as const;
export type DiscoveryFormat = (typeof DiscoveryFormat)[keyof typeof DiscoveryFormat];

/** Aggregated discovery when the client lists it before plain JSON, else the legacy documents. */
export function chooseDiscovery(accept: readonly MediaType[]): DiscoveryFormat {
  for (const type of accept) {
    if (type.params['as'] === 'APIGroupDiscoveryList' && type.params['g'] === 'apidiscovery.k8s.io' && type.essence === 'application/json') {
      if (type.params['v'] === 'v2') return DiscoveryFormat.aggregatedV2;
      if (type.params['v'] === 'v2beta1') return DiscoveryFormat.aggregatedV2beta1;
      continue;
    }
    if (type.params['as'] === undefined && isJsonLike(type)) return DiscoveryFormat.legacy;
  }
  return DiscoveryFormat.legacy;
}
