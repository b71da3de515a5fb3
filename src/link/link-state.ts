// What the link remembers across sockets: cluster identity and the gateway to resume on. A StateStore
// persists it (in-memory here; the cluster state objects plug in behind the same interface).

export interface LinkState {
  clusterId: string | undefined;
  clusterUuid: string | undefined;
  gatewayUrl: string | undefined;
}

export interface StateStore {
  load(): Promise<Partial<LinkState>>;
  save(state: Readonly<LinkState>): Promise<void>;
}

export class MemoryStateStore implements StateStore {
  #state: Partial<LinkState> = {};
  load(): Promise<Partial<LinkState>> {
    return Promise.resolve({ ...this.#state });
  }
  save(state: Readonly<LinkState>): Promise<void> {
    this.#state = { ...state };
    return Promise.resolve();
  }
}
