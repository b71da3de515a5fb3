// One Kubernetes API call of the agent's own, bounded in time: when the bound expires the call rejects
// with UPSTREAM_TIMEOUT and its request is aborted, so a hanging API server never keeps a socket.

import { Observable } from '@kubernetes/client-node';
import type { ConfigurationOptions, ObservableMiddleware } from '@kubernetes/client-node';
import { AgentError, ErrorCode } from '../errors.js';
import type { Clock } from '../util/clock.js';

/** The per-call options a client-node API method takes as its last argument. */
export type KubeCallOptions = ConfigurationOptions<ObservableMiddleware>;

/** Per-call options that attach an AbortSignal to the request. */
function abortOptions(signal: AbortSignal): KubeCallOptions {
  const middleware: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/**
 * Runs `call` under `timeoutMs` measured on `clock`; `what` names the call in the timeout's message
 * (`<what> timed out after <timeoutMs> ms`). `call` must pass the options on to the API method, or the
 * request is not aborted.
 */
export function boundedKubeCall<T>(clock: Clock, timeoutMs: number, what: string, call: (options: KubeCallOptions) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(timeoutMs, () => {
      controller.abort();
      reject(new AgentError(ErrorCode.upstreamTimeout, `${what} timed out after ${timeoutMs} ms`));
    });
    call(abortOptions(controller.signal)).then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (error: unknown) => {
        timer.cancel();
        reject(error);
      },
    );
  });
}
