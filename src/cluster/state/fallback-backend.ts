// The `auto` rule outside a pod: the cluster objects while they can be read and written, the local file
// once they cannot. It never switches back within a process, so one run never splits its state.
//
//   read:  cluster ok, has state ─► cluster          write (cluster mode): cluster ok ─► done
//          cluster ok, empty     ─► file's state*       cluster fails ─► file mode, write the file
//          cluster fails         ─► file mode, file     (* migrated to the cluster by the next write)

import type { Logger } from 'pino';
import { kubeFailureOf } from '../../kube/kube-failure.js';
import type { AgentStateBackend, AgentStateRecord } from './store.js';

function isEmpty(record: AgentStateRecord): boolean {
  return Object.values(record).every((value) => value === undefined);
}

export class FallbackStateBackend implements AgentStateBackend {
  readonly #cluster: AgentStateBackend;
  readonly #file: AgentStateBackend;
  readonly #logger: Logger;
  #isOnFile = false;

  constructor(cluster: AgentStateBackend, file: AgentStateBackend, logger: Logger) {
    this.#cluster = cluster;
    this.#file = file;
    this.#logger = logger;
  }

  get description(): string {
    return this.#isOnFile ? this.#file.description : `${this.#cluster.description} (fallback: ${this.#file.description})`;
  }

  async read(): Promise<AgentStateRecord> {
    if (!this.#isOnFile) {
      let record: AgentStateRecord | undefined;
      try {
        record = await this.#cluster.read();
      } catch (error) {
        this.#switchToFile(error, 'read');
      }
      if (record !== undefined && !isEmpty(record)) return record;
    }
    return this.#file.read();
  }

  async write(record: AgentStateRecord): Promise<void> {
    if (!this.#isOnFile) {
      try {
        await this.#cluster.write(record);
        return;
      } catch (error) {
        this.#switchToFile(error, 'write');
      }
    }
    await this.#file.write(record);
  }

  #switchToFile(error: unknown, operation: 'read' | 'write'): void {
    this.#isOnFile = true;
    // Warned once: the switch is a state change, not a per-write event.
    this.#logger.warn(
      { ...kubeFailureOf(error), operation, store: this.#file.description },
      'cannot use the state objects in the cluster; keeping state in the local file',
    );
  }
}
