// One Kubernetes API call of the agent's own, bounded in time: when the bound expires the call rejects
// with UPSTREAM_TIMEOUT and its request is aborted, so a hanging API server never keeps a socket.

import { AgentError, ErrorCode } from '../errors.js';
import type { Clock } from '../util/clock.js';

/**
 * Runs `call` under `timeoutMs` measured on `clock`; `what` names the call in the timeout's message
 * (`<what> timed out after <timeoutMs> ms`). `call` must pass the signal on to the KubeClient method, or
 * the request is not aborted.
 */
export function boundedKubeCall<T>(clock: Clock, timeoutMs: number, what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(timeoutMs, () => {
      controller.abort();
      reject(new AgentError(ErrorCode.upstreamTimeout, `${what} timed out after ${timeoutMs} ms`));
    });
    call(controller.signal).then(
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
