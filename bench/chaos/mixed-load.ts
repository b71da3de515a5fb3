// The kubectl-shaped workload of the chaos runs, spoken straight to the local control plane's kubectl
// endpoint (HTTP and WebSocket) instead of through the kubectl binary, which is far too slow for 100,000
// requests: get, list, watch (ended by timeoutSeconds, or cancelled by the client), logs -f (cancelled by
// the client) and exec (a real `echo` in the sandbox pod, ended by the API server).

import http from 'node:http';
import WebSocket from 'ws';

export const Operation = { get: 'get', list: 'list', watch: 'watch', logs: 'logs', exec: 'exec' } as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/** Relative weights of the operations in the mix (sum 100). */
export const OPERATION_WEIGHTS: Readonly<Record<Operation, number>> = { get: 50, list: 28, watch: 8, logs: 7, exec: 7 };

export const Outcome = {
  ok: 'ok',
  /** An HTTP error status or a session closed with an error: the tunnel said what went wrong. */
  failed: 'failed',
  /** The connection to the control plane failed or broke (restarts). */
  connection: 'connection',
  /** No answer within the client's own limit. */
  timeout: 'timeout',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface LoadTarget {
  /** `http://127.0.0.1:PORT/clusters/<name>` of the current control plane (the port survives restarts). */
  readonly clusterUrl: string;
  readonly random: () => number;
}

/**
 * After a failed operation a client waits this long before its next one, as kubectl's retries do; else
 * the seconds of a control-plane restart would burn thousands of operations on instant 503s.
 */
const FAILURE_PAUSE_MS = 100;
/** No operation waits longer: a tunnel that keeps a client waiting beyond this counts as a timeout. */
const CLIENT_TIMEOUT_MS = 30_000;
const WATCH_PATH = '/api/v1/namespaces/default/pods';
const POD_PATH = '/api/v1/namespaces/default/pods/demo';
const LIST_PATHS = ['/api/v1/namespaces/default/pods', '/api/v1/namespaces', '/api/v1/nodes', '/api/v1/pods'] as const;
const EXEC_QUERY = 'command=echo&command=chaos&stdout=true&stderr=true';

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** The soak's lighter mix: mostly short requests, a few long-lived streams and sessions. */
export const SOAK_WEIGHTS: Readonly<Record<Operation, number>> = { get: 60, list: 30, watch: 4, logs: 4, exec: 2 };

export function pickOperation(random: () => number, weights: Readonly<Record<Operation, number>> = OPERATION_WEIGHTS): Operation {
  let point = random() * 100;
  for (const [operation, weight] of Object.entries(weights) as [Operation, number][]) {
    if (point < weight) return operation;
    point -= weight;
  }
  return Operation.get;
}

function connectionOutcome(error: NodeJS.ErrnoException): Outcome {
  return error.name === 'TimeoutError' || error.code === 'ETIMEDOUT' ? Outcome.timeout : Outcome.connection;
}

/**
 * One HTTP request; `readFor` undefined reads the body to its end, a number cancels after that many ms
 * (a client walking away from a watch or a log follow).
 */
function httpCall(url: string, readFor: number | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    let isSettled = false;
    const settle = (outcome: Outcome): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = http.get(url, { agent: httpAgent }, (response) => {
      const isOk = (response.statusCode ?? 0) < 400;
      if (readFor !== undefined && isOk) {
        setTimeout(() => {
          response.destroy();
          settle(Outcome.ok);
        }, readFor);
      }
      response.on('data', () => undefined);
      response.on('end', () => settle(isOk ? Outcome.ok : Outcome.failed));
      response.on('error', () => settle(readFor !== undefined && isOk ? Outcome.ok : Outcome.connection));
      response.on('close', () => settle(response.complete ? (isOk ? Outcome.ok : Outcome.failed) : Outcome.connection));
    });
    request.on('error', (error: NodeJS.ErrnoException) => settle(connectionOutcome(error)));
    const timer = setTimeout(() => {
      request.destroy();
      settle(Outcome.timeout);
    }, CLIENT_TIMEOUT_MS);
  });
}

/** An exec of `echo` over v5.channel.k8s.io: ok once the API server sent a Success status and closed. */
function execCall(url: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let isSettled = false;
    let hasSuccess = false;
    const socket = new WebSocket(url.replace(/^http/, 'ws'), ['v5.channel.k8s.io'], { perMessageDeflate: false, handshakeTimeout: CLIENT_TIMEOUT_MS });
    const settle = (outcome: Outcome): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      socket.terminate();
      resolve(outcome);
    };
    socket.on('message', (data: Buffer) => {
      // channel 3 carries the exit status: {"status":"Success"} for exit code 0
      if (data[0] === 3 && data.subarray(1).toString('utf8').includes('"Success"')) hasSuccess = true;
    });
    socket.on('close', (code) => settle(hasSuccess && code === 1000 ? Outcome.ok : Outcome.failed));
    socket.on('error', (error: NodeJS.ErrnoException) => settle(connectionOutcome(error)));
    socket.on('unexpected-response', (_request, response) => {
      response.resume();
      settle(Outcome.failed);
    });
    const timer = setTimeout(() => settle(Outcome.timeout), CLIENT_TIMEOUT_MS);
  });
}

export function runOperation(operation: Operation, target: LoadTarget): Promise<Outcome> {
  const base = target.clusterUrl;
  const random = target.random;
  switch (operation) {
    case Operation.get:
      return httpCall(`${base}${POD_PATH}`, undefined);
    case Operation.list:
      return httpCall(`${base}${LIST_PATHS[Math.floor(random() * LIST_PATHS.length)]!}`, undefined);
    case Operation.watch:
      // half end on the API server's timeoutSeconds, half are abandoned by the client (proxy_cancel)
      return random() < 0.5
        ? httpCall(`${base}${WATCH_PATH}?watch=1&timeoutSeconds=1`, undefined)
        : httpCall(`${base}${WATCH_PATH}?watch=1`, 50 + Math.floor(random() * 250));
    case Operation.logs:
      return httpCall(`${base}${POD_PATH}/log?follow=true&tailLines=2`, 100 + Math.floor(random() * 300));
    case Operation.exec:
      return execCall(`${base}${POD_PATH}/exec?${EXEC_QUERY}`);
  }
}

export type OutcomeCounts = Record<Operation, Record<Outcome, number>>;

export function emptyCounts(): OutcomeCounts {
  const counts = {} as OutcomeCounts;
  for (const operation of Object.values(Operation)) counts[operation] = { ok: 0, failed: 0, connection: 0, timeout: 0 };
  return counts;
}

export interface LoadOptions {
  readonly target: LoadTarget;
  /** Operations to issue in all. */
  readonly total: number;
  /** Operations in flight at once. */
  readonly concurrency: number;
  /** When set, operations start at this rate (per second) instead of back to back. */
  readonly ratePerSecond?: number;
  /** Stops issuing new operations when it returns true. */
  readonly shouldStop?: () => boolean;
  /** Operation weights (sum 100); default OPERATION_WEIGHTS. */
  readonly weights?: Readonly<Record<Operation, number>>;
}

/** Issues `total` operations and resolves with their outcomes once every one has finished. */
export async function runLoad(options: LoadOptions, counts: OutcomeCounts): Promise<number> {
  let issued = 0;
  const started = Date.now();
  const next = async (): Promise<void> => {
    while (issued < options.total && options.shouldStop?.() !== true) {
      issued++;
      if (options.ratePerSecond !== undefined) {
        const due = started + (issued * 1000) / options.ratePerSecond;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const operation = pickOperation(options.target.random, options.weights);
      const outcome = await runOperation(operation, options.target);
      counts[operation][outcome]++;
      if (outcome !== Outcome.ok) await new Promise((resolve) => setTimeout(resolve, FAILURE_PAUSE_MS));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, next));
  return issued;
}

export function closeLoadClients(): void {
  httpAgent.destroy();
}
