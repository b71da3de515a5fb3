// Region, cloud provider and public IP for `register` (CLUSTER.md §5, PROTOCOL.md §5.1, §17.1). Every
// lookup starts at once and runs under one overall deadline; whatever has not answered by then is
// skipped, so a hung service delays registration by the deadline at most and never blocks it.
//
//   nodes (providerID, labels) ─┐
//   metadata probes (opt-in) ───┤
//   public-IP echo ─► ip-intel ─┼─► combine ─► {server_ip, region, cloud_provider, metadata}
//   GeoIP (unless skipped) ─────┘      ▲ deadline: unfinished lookups count as "no answer"
//
// Combining (the two documents rank the signals differently; this follows PROTOCOL.md for the wire
// values): region = ip-intel country code, else the cloud region from nodes or metadata, else a
// distribution hint (`local-dev`), else the GeoIP country, else `unknown-country`. cloud_provider = a
// cloud's own word (node providerID, metadata), else ip-intel's (§17.1: uninformative answers keep the
// local value), else a distribution hint (`on-premises`), else `agent`.

import type { V1Node } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RegistrationSettings } from '../../config/agent-config.js';
import { DEFAULT_REGISTRATION_FACTS_TIMEOUT_MS } from '../../config/env-spec.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { boundedKubeCall } from '../../kube/bounded-call.js';
import type { KubeClient } from '../../kube/kube-client.js';
import type { KubeList } from '../../kube/kube-informer.js';
import { kubeFailureOf } from '../../kube/kube-failure.js';
import { lookupGeoIp, type GeoIp } from './geoip.js';
import { LookupDeadline } from './lookup-http.js';
import { IP_INTEL_TIMEOUT_MS, lookupIpIntel, type IpIntel } from './ip-intel.js';
import { DEFAULT_METADATA_ENDPOINTS, METADATA_PROBE_TIMEOUT_MS, probeCloudMetadata, type CloudMetadata, type MetadataEndpoints } from './cloud-metadata.js';
import { NO_HINTS, nodeHints, type NodeHints } from './node-hints.js';
import { fetchPublicIp, isPublicIp, primaryInterfaceIp } from './public-ip.js';

export const DEFAULT_REGION = 'unknown-country';
export const DEFAULT_CLOUD_PROVIDER = 'agent';

/** The `register` fields this module owns. */
export interface RegionFacts {
  readonly serverIp: string;
  readonly region: string;
  readonly cloudProvider: string;
  /** ip-intel's metadata keys (§17.1), only those it supplied. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface RegionSource {
  detect(): Promise<RegionFacts>;
}

export interface RegionDetectorOptions {
  readonly kube: KubeClient | undefined;
  /** The control plane base URL: ip-intel lives under it. */
  readonly apiUrl: string;
  /** Absent (a config built by hand): node facts only, no HTTP lookups. */
  readonly settings: RegistrationSettings | undefined;
  readonly logger: Logger;
  /** Measures the deadline; real time unless given, so an agent on a simulated clock still registers. */
  readonly clock?: Clock;
  readonly metadataEndpoints?: MetadataEndpoints;
  /** The fallback `server_ip`; the host's primary interface unless given. */
  readonly primaryIp?: () => string;
}

interface Signals {
  readonly nodes: NodeHints;
  readonly metadata: CloudMetadata | undefined;
  readonly publicIp: string | undefined;
  readonly ipIntel: IpIntel | undefined;
  readonly geoIp: GeoIp | undefined;
}

/** The combining rule of the file header, pure so tests can state it case by case. */
export function combineSignals(signals: Signals, fallbackIp: string): RegionFacts {
  const { nodes, metadata, ipIntel, geoIp } = signals;
  const cloud = !nodes.isLocalHint && nodes.cloudProvider !== undefined ? nodes : undefined;
  const hint = nodes.isLocalHint ? nodes : undefined;
  const localRegion = (hint === undefined ? nodes.region : undefined) ?? metadata?.region ?? hint?.region;
  return {
    serverIp: signals.publicIp ?? fallbackIp,
    region: ipIntel?.countryCode ?? localRegion ?? geoIp?.countryCode ?? DEFAULT_REGION,
    cloudProvider: cloud?.cloudProvider ?? metadata?.cloudProvider ?? ipIntel?.cloudProvider ?? nodes.cloudProvider ?? DEFAULT_CLOUD_PROVIDER,
    metadata: { ...ipIntel?.metadata },
  };
}

export class RegionDetector implements RegionSource {
  readonly #options: RegionDetectorOptions;
  readonly #clock: Clock;
  readonly #api: KubeClient | undefined;

  constructor(options: RegionDetectorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#api = options.kube;
  }

  async detect(): Promise<RegionFacts> {
    const { settings, logger } = this.#options;
    const timeoutMs = settings?.factsTimeoutMs ?? DEFAULT_REGISTRATION_FACTS_TIMEOUT_MS;
    const deadline = new LookupDeadline(this.#clock, timeoutMs);
    const failed = (what: string) => (error: unknown) => logger.debug({ ...kubeFailureOf(error), lookup: what }, 'registration lookup failed');
    const fallbackIp = (this.#options.primaryIp ?? primaryInterfaceIp)();
    try {
      const nodes = deadline.within(this.#listNodes(timeoutMs).then(nodeHints), failed('nodes'));
      const metadata =
        settings === undefined || settings.skipMetadata
          ? Promise.resolve(undefined)
          : deadline.within(
              probeCloudMetadata(deadline.signalWithin(METADATA_PROBE_TIMEOUT_MS), this.#options.metadataEndpoints ?? DEFAULT_METADATA_ENDPOINTS),
              failed('metadata'),
            );
      const publicIp =
        settings?.publicIpUrl === undefined ? Promise.resolve(undefined) : deadline.within(fetchPublicIp(settings.publicIpUrl, deadline.signal), failed('public ip'));
      // ip-intel needs the address first; a private one (no echo, pod IP) tells it nothing.
      const ipIntel = publicIp.then((ip) => {
        const candidate = ip ?? fallbackIp;
        if (settings === undefined || !isPublicIp(candidate)) return undefined;
        return deadline.within(lookupIpIntel(this.#options.apiUrl, candidate, deadline.signalWithin(IP_INTEL_TIMEOUT_MS)), failed('ip-intel'));
      });
      const geoIp =
        settings?.geoipUrl === undefined || settings.skipGeoip
          ? Promise.resolve(undefined)
          : deadline.within(lookupGeoIp(settings.geoipUrl, deadline.signal), failed('geoip'));
      const [nodeResult, metadataResult, publicIpResult, ipIntelResult, geoIpResult] = await Promise.all([nodes, metadata, publicIp, ipIntel, geoIp]);
      const facts = combineSignals(
        { nodes: nodeResult ?? NO_HINTS, metadata: metadataResult, publicIp: publicIpResult, ipIntel: ipIntelResult, geoIp: geoIpResult },
        fallbackIp,
      );
      logger.debug(
        {
          region: facts.region,
          cloudProvider: facts.cloudProvider,
          answered: { nodes: nodeResult !== undefined, metadata: metadataResult !== undefined, publicIp: publicIpResult !== undefined, ipIntel: ipIntelResult !== undefined, geoIp: geoIpResult !== undefined },
        },
        'registration facts gathered',
      );
      return facts;
    } finally {
      deadline.finish();
    }
  }

  async #listNodes(timeoutMs: number): Promise<V1Node[]> {
    const api = this.#api;
    if (api === undefined) return [];
    // One node, as the reference does: the first one speaks for the cluster's provider and region.
    const list = await boundedKubeCall(this.#clock, timeoutMs, 'node list', (signal) => api.get<KubeList<V1Node>>('/api/v1/nodes', { limit: 1 }, signal));
    return list.items;
  }
}
