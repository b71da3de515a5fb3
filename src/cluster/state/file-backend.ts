// State in a local JSON file (mode 600, directory 700) for runs outside a pod, with the same keys as the
// cluster objects. The file is stamped with the control plane URL and cluster name: one laptop may run
// agents against several setups, and a cluster id from one must never be resumed against another.

import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { nonEmptyText, type AgentStateBackend, type AgentStateRecord } from './store.js';

export const STATE_FILE_MODE = 0o600;
const STATE_DIR_MODE = 0o700;

/** The file's JSON shape: the cluster objects' keys plus the stamp. */
interface StateFileJson {
  agent_id?: string;
  cluster_id?: string;
  gateway_ws_url?: string;
  cluster_token?: string;
  cluster_cert_data?: string;
  api_url?: string;
  cluster_name?: string;
}

/** `~` and `~/…` mean the home directory; everything else is taken as given. */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

function stringField(json: Record<string, unknown>, key: string): string | undefined {
  const value = json[key];
  return typeof value === 'string' ? nonEmptyText(value) : undefined;
}

export interface FileStateBackendOptions {
  readonly path: string;
  readonly apiUrl: string;
  readonly clusterName: string;
  readonly logger: Logger;
}

export class FileStateBackend implements AgentStateBackend {
  readonly description: string;
  readonly #path: string;
  readonly #apiUrl: string;
  readonly #clusterName: string;
  readonly #logger: Logger;

  constructor(options: FileStateBackendOptions) {
    this.#path = expandHome(options.path);
    this.#apiUrl = options.apiUrl;
    this.#clusterName = options.clusterName;
    this.#logger = options.logger;
    this.description = `file ${this.#path}`;
  }

  async read(): Promise<AgentStateRecord> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return {};
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.#logger.warn({ file: this.#path }, 'state file is not JSON; ignoring it');
      return {};
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const json = parsed as Record<string, unknown>;
    const agentId = stringField(json, 'agent_id');
    const stampedUrl = stringField(json, 'api_url');
    const stampedName = stringField(json, 'cluster_name');
    const isOtherSetup =
      (stampedUrl !== undefined && stampedUrl !== this.#apiUrl) || (stampedName !== undefined && stampedName !== this.#clusterName);
    if (isOtherSetup) {
      // The agent id describes this host and stays; the cluster identity belongs to the other setup.
      this.#logger.info({ file: this.#path }, 'state file belongs to another control plane or cluster name; registering afresh');
      return { agentId };
    }
    return {
      agentId,
      clusterId: stringField(json, 'cluster_id'),
      gatewayUrl: stringField(json, 'gateway_ws_url'),
      clusterToken: stringField(json, 'cluster_token'),
      clusterCertData: stringField(json, 'cluster_cert_data'),
    };
  }

  async write(record: AgentStateRecord): Promise<void> {
    const json: StateFileJson = {
      ...(record.agentId === undefined ? {} : { agent_id: record.agentId }),
      ...(record.clusterId === undefined ? {} : { cluster_id: record.clusterId }),
      ...(record.gatewayUrl === undefined ? {} : { gateway_ws_url: record.gatewayUrl }),
      ...(record.clusterToken === undefined ? {} : { cluster_token: record.clusterToken }),
      ...(record.clusterCertData === undefined ? {} : { cluster_cert_data: record.clusterCertData }),
      api_url: this.#apiUrl,
      cluster_name: this.#clusterName,
    };
    await mkdir(dirname(this.#path), { recursive: true, mode: STATE_DIR_MODE });
    // Written beside the target and renamed over it, so a crash never leaves half a file; the temporary
    // file is created 600 because it already holds the token.
    const temporary = `${this.#path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(json, null, 2)}\n`, { mode: STATE_FILE_MODE });
    await chmod(temporary, STATE_FILE_MODE);
    await rename(temporary, this.#path);
  }
}
