// The HTTP side of the registration lookups: one GET (or PUT) with an abort signal and a body cap. The
// services are third parties or the control plane's public endpoint, so nothing here carries the agent
// token, and a failure is only ever a reason to fall back.

import { AgentError, ErrorCode } from '../../errors.js';
import type { Clock, TimerHandle } from '../../util/clock.js';

/** Lookup answers are a few hundred bytes; anything far larger is not the service we meant. */
export const MAX_LOOKUP_BODY_BYTES = 64 * 1024;

export interface LookupRequest {
  readonly url: string;
  readonly signal: AbortSignal;
  readonly method?: 'GET' | 'PUT';
  readonly headers?: Readonly<Record<string, string>>;
}

async function cappedText(response: Response, url: string): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_LOOKUP_BODY_BYTES) {
      await reader.cancel();
      throw new AgentError(ErrorCode.responseTooLarge, `${new URL(url).host} answered more than ${MAX_LOOKUP_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The body of a 2xx answer; rejects on any other status, a network failure or the signal. */
export async function fetchText(request: LookupRequest): Promise<string> {
  const response = await fetch(request.url, {
    method: request.method ?? 'GET',
    headers: { Accept: 'application/json, text/plain;q=0.9', ...request.headers },
    signal: request.signal,
    redirect: 'follow',
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new AgentError(ErrorCode.upstreamFailed, `${new URL(request.url).host} answered ${response.status}`);
  }
  return cappedText(response, request.url);
}

export async function fetchJson(request: LookupRequest): Promise<unknown> {
  const text = await fetchText(request);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AgentError(ErrorCode.upstreamFailed, `${new URL(request.url).host} answered something other than JSON`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field, trimmed; numbers (an ASN, say) as their decimal text; empty counts as absent. */
export function textField(record: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = record[key];
  const text = typeof value === 'string' ? value.trim() : typeof value === 'number' && Number.isFinite(value) ? String(value) : '';
  return text === '' ? undefined : text;
}

/**
 * One overall deadline on a clock: every lookup shares its signal, and `within` turns "not done by then"
 * into undefined, so a hung service costs the registration at most the deadline.
 */
export class LookupDeadline {
  readonly #controller = new AbortController();
  readonly #clock: Clock;
  readonly #timers: TimerHandle[] = [];
  readonly #expired: Promise<undefined>;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#expired = new Promise<undefined>((resolve) => {
      this.#timers.push(
        clock.setTimer(timeoutMs, () => {
          this.#controller.abort(new AgentError(ErrorCode.upstreamTimeout, `registration lookups timed out after ${timeoutMs} ms`));
          resolve(undefined);
        }),
      );
    });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** A signal that fires at `timeoutMs` or at the deadline, whichever comes first. */
  signalWithin(timeoutMs: number): AbortSignal {
    const controller = new AbortController();
    this.#timers.push(
      this.#clock.setTimer(timeoutMs, () => controller.abort(new AgentError(ErrorCode.upstreamTimeout, `lookup timed out after ${timeoutMs} ms`))),
    );
    return AbortSignal.any([controller.signal, this.#controller.signal]);
  }

  /** The lookup's value, or undefined when it fails or the deadline passes first; never rejects. */
  within<T>(lookup: Promise<T | undefined>, onFailure: (error: unknown) => void): Promise<T | undefined> {
    const settled = lookup.catch((error: unknown) => {
      onFailure(error);
      return undefined;
    });
    return Promise.race([settled, this.#expired]);
  }

  /** Stops the timers and aborts whatever is still running. */
  finish(): void {
    for (const timer of this.#timers) timer.cancel();
    if (!this.#controller.signal.aborted) this.#controller.abort(new AgentError(ErrorCode.upstreamTimeout, 'registration lookups finished'));
  }
}
