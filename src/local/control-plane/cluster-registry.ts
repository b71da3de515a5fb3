// The clusters the local control plane knows: identity derived from the name, the last register and
// heartbeat payloads, counters, and which agent socket is the live session. Owns no sockets itself.
// With a registry file, what identifies a cluster (name, ids, agent id, the token it offered) survives a
// restart of the control plane, so an agent that resumes without registering (PROTOCOL.md §5.7, §7.6) is
// found again under its name.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JsonObject } from '../../protocol/envelope.js';
import { silentLogger, type Logger } from '../../log.js';
import type { AgentSession } from './agent-session.js';

/** A snapshot of one cluster, as tests and the demo see it. */
export interface ClusterInfo {
  readonly name: string;
  readonly clusterId: string;
  /** What register_success sends as `cluster_uuid`; the gateway handshake accepts it or `clusterId`. */
  readonly clusterUuid: string;
  readonly agentId: string;
  readonly registerPayload: JsonObject;
  /** Payload of the last heartbeat, undefined before the first one. */
  readonly lastHeartbeat: JsonObject | undefined;
  readonly heartbeats: number;
  /** Session sockets accepted so far (controller sockets that registered, or gateway sockets). */
  readonly connections: number;
  /** `register` messages received. */
  readonly registrations: number;
  readonly isConnected: boolean;
  /** kubectl WebSocket sessions (exec, attach, port-forward) open on the live session socket. */
  readonly activeSessions: number;
}


export interface ClusterRecord {
  readonly name: string;
  clusterId: string;
  readonly clusterUuid: string;
  agentId: string;
  registerPayload: JsonObject;
  /** The cluster ServiceAccount token the agent offered in `register`, if any. Never logged. */
  serviceToken: string | undefined;
  lastHeartbeat: JsonObject | undefined;
  heartbeats: number;
  connections: number;
  registrations: number;
  session: AgentSession | undefined;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `c-` + 12 hex digits: stable per cluster name, so a restarted control plane hands out the same id. */
export function clusterIdForName(name: string): string {
  return `c-${sha256Hex(`cluster-id:${name}`).slice(0, 12)}`;
}

/** A UUID-shaped (version 5 style) id, stable per cluster name. */
export function clusterUuidForName(name: string): string {
  const hex = sha256Hex(`cluster-uuid:${name}`);
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface RegisterFields {
  readonly name: string;
  readonly agentId: string;
  /** `cluster_id` the agent re-registers with, if any: adopted as the cluster's id. */
  readonly clusterId: string | undefined;
  readonly serviceToken: string | undefined;
  readonly payload: JsonObject;
}

/** One cluster as the registry file keeps it (version 1). The file is owner-only: it holds cluster tokens. */
interface StoredCluster {
  readonly name: string;
  readonly clusterId: string;
  readonly clusterUuid: string;
  readonly agentId: string;
  readonly serviceToken?: string;
  readonly registerPayload: JsonObject;
}

interface StoredRegistry {
  readonly version: 1;
  readonly clusters: readonly StoredCluster[];
}

function isStoredCluster(value: unknown): value is StoredCluster {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  const isText = (key: string): boolean => typeof entry[key] === 'string' && entry[key] !== '';
  return (
    isText('name') &&
    isText('clusterId') &&
    isText('clusterUuid') &&
    isText('agentId') &&
    (entry['serviceToken'] === undefined || typeof entry['serviceToken'] === 'string') &&
    typeof entry['registerPayload'] === 'object' &&
    entry['registerPayload'] !== null &&
    !Array.isArray(entry['registerPayload'])
  );
}

export interface ClusterRegistryOptions {
  /** Where the registry is kept across restarts; undefined keeps it in memory only. */
  readonly file?: string | undefined;
  readonly logger?: Logger;
}

export class ClusterRegistry {
  readonly #byName = new Map<string, ClusterRecord>();
  readonly #file: string | undefined;
  readonly #logger: Logger;
  /** Saves run one after another, so the file always ends with the latest state. */
  #saving: Promise<void> = Promise.resolve();

  constructor(options: ClusterRegistryOptions = {}) {
    this.#file = options.file;
    this.#logger = options.logger ?? silentLogger();
    if (this.#file !== undefined) this.#load(this.#file);
  }

  /** Resolves once every save started so far is on disk (or failed and was logged). */
  flush(): Promise<void> {
    return this.#saving;
  }

  get(name: string): ClusterRecord | undefined {
    return this.#byName.get(name);
  }

  /** Finds a cluster by the id a gateway handshake names: its `cluster_uuid` or its `cluster_id`. */
  findById(id: string): ClusterRecord | undefined {
    for (const record of this.#byName.values()) {
      if (record.clusterUuid === id || record.clusterId === id) return record;
    }
    return undefined;
  }

  all(): IterableIterator<ClusterRecord> {
    return this.#byName.values();
  }

  /** Records a `register` and returns the (possibly new) cluster. */
  register(fields: RegisterFields): ClusterRecord {
    let record = this.#byName.get(fields.name);
    if (record === undefined) {
      record = {
        name: fields.name,
        clusterId: clusterIdForName(fields.name),
        clusterUuid: clusterUuidForName(fields.name),
        agentId: fields.agentId,
        registerPayload: fields.payload,
        serviceToken: undefined,
        lastHeartbeat: undefined,
        heartbeats: 0,
        connections: 0,
        registrations: 0,
        session: undefined,
      };
      this.#byName.set(fields.name, record);
    }
    if (fields.clusterId !== undefined && fields.clusterId !== '') record.clusterId = fields.clusterId;
    record.agentId = fields.agentId;
    record.registerPayload = fields.payload;
    record.serviceToken = fields.serviceToken;
    record.registrations++;
    this.#save();
    return record;
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger.warn({ err: error, file }, 'could not read the cluster registry; starting empty');
      return;
    }
    let stored: unknown;
    try {
      stored = JSON.parse(text);
    } catch {
      this.#logger.warn({ file }, 'the cluster registry file is not JSON; starting empty');
      return;
    }
    const clusters = (stored as Partial<StoredRegistry> | null)?.clusters;
    if (!Array.isArray(clusters)) return;
    for (const entry of clusters) {
      if (!isStoredCluster(entry)) continue;
      this.#byName.set(entry.name, {
        name: entry.name,
        clusterId: entry.clusterId,
        clusterUuid: entry.clusterUuid,
        agentId: entry.agentId,
        registerPayload: entry.registerPayload,
        serviceToken: entry.serviceToken,
        lastHeartbeat: undefined,
        heartbeats: 0,
        connections: 0,
        registrations: 0,
        session: undefined,
      });
    }
    this.#logger.info({ file, clusters: this.#byName.size }, 'cluster registry loaded');
  }

  #save(): void {
    const file = this.#file;
    if (file === undefined) return;
    const stored: StoredRegistry = {
      version: 1,
      clusters: [...this.#byName.values()].map((record) => {
        // The token is kept once, in serviceToken; the payload copy is dropped.
        const { k8s_service_token: _token, ...registerPayload } = record.registerPayload;
        return {
          name: record.name,
          clusterId: record.clusterId,
          clusterUuid: record.clusterUuid,
          agentId: record.agentId,
          ...(record.serviceToken === undefined ? {} : { serviceToken: record.serviceToken }),
          registerPayload,
        };
      }),
    };
    const text = `${JSON.stringify(stored, null, 2)}\n`;
    this.#saving = this.#saving.then(async () => {
      try {
        await mkdir(dirname(file), { recursive: true });
        // Written aside and renamed, so a crash mid-write never leaves half a registry.
        const partial = `${file}.${process.pid}.tmp`;
        await writeFile(partial, text, { mode: 0o600 });
        await rename(partial, file);
      } catch (error) {
        this.#logger.warn({ err: error, file }, 'could not save the cluster registry');
      }
    });
  }

  /**
   * Makes `session` the cluster's live session. A cluster has at most one: an older open one is closed
   * with 1000 (its own close handling then fails the requests it carried).
   */
  attach(record: ClusterRecord, session: AgentSession): void {
    const previous = record.session;
    if (previous === session) return;
    record.session = session;
    record.connections++;
    if (previous !== undefined && previous !== session && previous.isOpen) previous.close(1000, 'replaced by a newer session');
  }

  /** Clears the live session if it is still `session` (a replaced one must not detach its successor). */
  detach(record: ClusterRecord, session: AgentSession): boolean {
    if (record.session !== session) return false;
    record.session = undefined;
    return true;
  }
}

export function clusterSnapshot(record: ClusterRecord): ClusterInfo {
  return {
    name: record.name,
    clusterId: record.clusterId,
    clusterUuid: record.clusterUuid,
    agentId: record.agentId,
    registerPayload: record.registerPayload,
    lastHeartbeat: record.lastHeartbeat,
    heartbeats: record.heartbeats,
    connections: record.connections,
    registrations: record.registrations,
    isConnected: record.session !== undefined && record.session.isOpen,
    activeSessions: record.session?.streams.size ?? 0,
  };
}
