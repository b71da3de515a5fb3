// The cheap client side of the load bench: keep-alive HTTP(S) GETs that only count response bytes, watch
// streams read to their end, and exec round trips over WebSocket; N operations at C in parallel.

import http from 'node:http';
import https from 'node:https';
import WebSocket from 'ws';

export const Op = { small: 'small', list: 'list', watch: 'watch', exec: 'exec', big: 'big' } as const;
export type Op = (typeof Op)[keyof typeof Op];

export const PATHS: Readonly<Record<Exclude<Op, 'exec'>, string>> = {
  small: '/api/v1/namespaces/bench/configmaps/small',
  list: '/api/v1/namespaces/bench/pods?limit=100',
  watch: '/api/v1/namespaces/bench/pods?watch=true&events=20',
  big: '/api/v1/pods?limit=big',
};
const EXEC_PATH = '/api/v1/namespaces/bench/pods/shell/exec?command=cat&stdin=true&stdout=true';

/** One side of a comparison: the API directly (token and CA) or the tunnel through the control plane. */
export interface Target {
  readonly base: string;
  readonly token?: string;
  readonly ca?: string;
}

export class LoadClient {
  readonly #target: Target;
  readonly #agent: http.Agent;
  readonly #idleExec: WebSocket[] = [];

  constructor(target: Target, parallel: number) {
    this.#target = target;
    const options = { keepAlive: true, maxSockets: parallel, ...(target.ca === undefined ? {} : { ca: target.ca }) };
    this.#agent = target.base.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
  }

  /** GET `path`; resolves with the byte count of the (decoded by nobody) body. */
  get(path: string): Promise<number> {
    const url = new URL(`${this.#target.base}${path}`);
    const client = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.#target.token !== undefined) headers['Authorization'] = `Bearer ${this.#target.token}`;
    return new Promise((resolve, reject) => {
      const request = client.get(url, { agent: this.#agent, headers }, (response) => {
        let size = 0;
        response.on('data', (chunk: Buffer) => (size += chunk.length));
        response.on('end', () => (response.statusCode === 200 ? resolve(size) : reject(new Error(`GET ${path}: status ${response.statusCode}`))));
        response.on('error', reject);
      });
      request.on('error', reject);
    });
  }

  /** Opens an exec session (v5.channel.k8s.io) that echoes stdin as stdout. */
  openExec(): Promise<WebSocket> {
    const url = `${this.#target.base.replace(/^http/, 'ws')}${EXEC_PATH}`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, ['v5.channel.k8s.io'], {
        perMessageDeflate: false,
        ...(this.#target.token === undefined ? {} : { headers: { Authorization: `Bearer ${this.#target.token}` } }),
        ...(this.#target.ca === undefined ? {} : { ca: this.#target.ca }),
      });
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  /** One keystroke-sized round trip on a session taken from (and returned to) the idle set. */
  async execRoundTrip(): Promise<void> {
    const socket = this.#idleExec.pop() ?? (await this.openExec());
    await new Promise<void>((resolve, reject) => {
      const onMessage = (data: Buffer): void => {
        if (data[0] !== 1) return;
        socket.off('message', onMessage);
        resolve();
      };
      socket.on('message', onMessage);
      socket.once('close', () => reject(new Error('exec session closed')));
      socket.send(Buffer.from([0, 0x61]));
    });
    socket.removeAllListeners('close');
    this.#idleExec.push(socket);
  }

  run(op: Op): Promise<unknown> {
    return op === Op.exec ? this.execRoundTrip() : this.get(PATHS[op]);
  }

  close(): void {
    for (const socket of this.#idleExec.splice(0)) socket.terminate();
    this.#agent.destroy();
  }
}

export interface RunResult {
  readonly count: number;
  readonly seconds: number;
  /** Latency of each operation in milliseconds, sorted. */
  readonly latencies: readonly number[];
}

/** Runs `count` operations, `parallel` at a time; `opAt(i)` names the i-th. */
export async function runLoad(client: LoadClient, count: number, parallel: number, opAt: (index: number) => Op): Promise<RunResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const op = opAt(next++);
      const t0 = process.hrtime.bigint();
      await client.run(op);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { count, seconds, latencies: latencies.sort((a, b) => a - b) };
}
