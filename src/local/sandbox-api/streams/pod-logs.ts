// GET /api/v1/namespaces/<ns>/pods/<name>/log: a container's log as text/plain, with the PodLogOptions
// kubectl sends (container, follow, tailLines, sinceSeconds, sinceTime, timestamps, limitBytes,
// previous), validated with the apiserver's messages and applied in the kubelet's order (tail, then
// since). `follow` keeps the chunked response open and writes each line as it is logged, until the
// client goes away, the pod is deleted or the sandbox closes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiStatusError, badRequest, invalid, type FieldError } from '../http/api-status.js';
import { commonHeaders } from '../http/http-exchange.js';
import { formatRfc3339Nano, type LogLine } from '../runtime/pod-log-buffer.js';
import {
  chooseContainer,
  replyStatus,
  type PodStreamContext,
  type PodStreamHandler,
  type PodStreamTarget,
  type UpgradeExchange,
} from './pod-stream-handler.js';
import { queryFlag } from '../../query-bool.js';

export interface LogOptions {
  readonly container: string;
  readonly follow: boolean;
  readonly timestamps: boolean;
  readonly previous: boolean;
  readonly tailLines?: number;
  readonly sinceSeconds?: number;
  /** nanoseconds since the epoch */
  readonly sinceTimeNs?: bigint;
  readonly limitBytes?: number;
}

/** Go's strconv.ParseInt(s, 10, 64) as the query conversion applies it; "" means unset. */
function queryInteger(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (!/^[+-]?\d+$/.test(value)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  return Number(value);
}

function querySinceTime(query: URLSearchParams): bigint | undefined {
  const value = query.get('sinceTime');
  if (value === null || value === '') return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms)) throw badRequest(`parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(value)} as "2006"`);
  return BigInt(ms) * 1_000_000n;
}

/** Parses and validates the options; throws the apiserver's 400/422 Status errors. */
export function parseLogOptions(target: PodStreamTarget): LogOptions {
  const { query } = target;
  const choice = chooseContainer(target, query.get('container'));
  if ('error' in choice) throw badRequest(choice.error);
  const tailLines = queryInteger(query, 'tailLines');
  const sinceSeconds = queryInteger(query, 'sinceSeconds');
  const limitBytes = queryInteger(query, 'limitBytes');
  const sinceTimeNs = querySinceTime(query);
  // validation.ValidatePodLogOptions
  const errors: FieldError[] = [];
  if (tailLines !== undefined && tailLines < 0) errors.push({ type: 'FieldValueInvalid', field: 'tailLines', detail: `Invalid value: ${tailLines}: must be greater than or equal to 0` });
  if (limitBytes !== undefined && limitBytes < 1) errors.push({ type: 'FieldValueInvalid', field: 'limitBytes', detail: `Invalid value: ${limitBytes}: must be greater than 0` });
  if (sinceSeconds !== undefined && sinceTimeNs !== undefined) {
    errors.push({ type: 'FieldValueForbidden', field: '', detail: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified' });
  } else if (sinceSeconds !== undefined && sinceSeconds < 1) {
    errors.push({ type: 'FieldValueInvalid', field: 'sinceSeconds', detail: `Invalid value: ${sinceSeconds}: must be greater than 0` });
  }
  if (errors.length > 0) throw invalid('', 'PodLogOptions', target.name, errors);
  return {
    container: choice.container,
    follow: queryFlag(query, 'follow'),
    timestamps: queryFlag(query, 'timestamps'),
    previous: queryFlag(query, 'previous'),
    ...(tailLines === undefined ? {} : { tailLines }),
    ...(sinceSeconds === undefined ? {} : { sinceSeconds }),
    ...(sinceTimeNs === undefined ? {} : { sinceTimeNs }),
    ...(limitBytes === undefined ? {} : { limitBytes }),
  };
}

/** The retained lines the options select: the last tailLines, then those at or after the since bound. */
export function selectLines(lines: readonly LogLine[], options: LogOptions, nowNs: bigint): readonly LogLine[] {
  let selected = options.tailLines === undefined ? lines : options.tailLines === 0 ? [] : lines.slice(-options.tailLines);
  const since = options.sinceSeconds !== undefined ? nowNs - BigInt(options.sinceSeconds) * 1_000_000_000n : options.sinceTimeNs;
  if (since !== undefined) selected = selected.filter((line) => line.timeNs >= since);
  return selected;
}

export function renderLine(line: LogLine, timestamps: boolean): string {
  return timestamps ? `${formatRfc3339Nano(line.timeNs)} ${line.text}\n` : `${line.text}\n`;
}

export function createPodLogHandler(context: PodStreamContext): PodStreamHandler {
  const followers = new Set<() => void>();

  function serveLog(target: PodStreamTarget, request: IncomingMessage, response: ServerResponse): void {
    const options = parseLogOptions(target);
    if (options.previous) throw badRequest(`previous terminated container "${options.container}" in pod "${target.name}" not found`);
    const log = context.runtime.log(target.namespace, target.name, options.container);
    response.writeHead(200, { ...commonHeaders(), 'Content-Type': 'text/plain' });
    response.flushHeaders();
    let remaining = options.limitBytes ?? Number.POSITIVE_INFINITY;
    // false once the byte limit is reached: the kubelet's LimitWriter stops the copy there
    const write = (text: string): boolean => {
      const bytes = Buffer.from(text, 'utf8');
      if (bytes.length >= remaining) {
        response.write(bytes.subarray(0, remaining));
        remaining = 0;
        return false;
      }
      remaining -= bytes.length;
      response.write(bytes);
      return true;
    };
    for (const line of selectLines(log.lines(), options, BigInt(Date.now()) * 1_000_000n)) {
      if (!write(renderLine(line, options.timestamps))) return void response.end();
    }
    if (!options.follow || log.hasEnded) return void response.end();

    function followerOnLine(line: LogLine): void {
      if (!write(renderLine(line, options.timestamps))) stop();
    }
    function stop(): void {
      unsubscribe();
      followers.delete(stop);
      if (!response.writableEnded) response.end();
    }
    const unsubscribe = log.subscribe(followerOnLine, stop);
    followers.add(stop);
    response.once('close', stop);
    request.once('close', stop);
  }

  return {
    serveRequest(target, request, response) {
      try {
        serveLog(target, request, response);
      } catch (error) {
        if (response.headersSent || !(error instanceof ApiStatusError)) throw error;
        replyStatus(request, response, error);
      }
    },
    serveUpgrade(target: PodStreamTarget, exchange: UpgradeExchange) {
      // the log endpoint ignores an Upgrade header and answers as to any GET
      this.serveRequest(target, exchange.request, exchange.response());
    },
    get activeSessions() {
      return followers.size;
    },
    async close() {
      for (const stop of [...followers]) stop();
    },
  };
}
