// The root pino logger. Tokens and Authorization headers are redacted wherever they appear in a logged
// object; callers still never put a token into a message string.

import { pino, type Logger, type LevelWithSilent } from 'pino';
import { AGENT_VERSION } from './version.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Keys whose values are credentials wherever they sit, top level or one object down (`{payload: {...}}`).
const SECRET_KEYS = [
  'token',
  'authorization',
  'Authorization',
  'k8s_service_token',
  'cluster_token',
  'password',
  'prometheus_password',
  'loki_password',
  'grafana_password',
  'opencost_password',
];
// Header maps as logged from requests and messages; hyphenated names need the bracket form.
const SECRET_HEADERS = ['authorization', 'Authorization', '["proxy-authorization"]', '["Proxy-Authorization"]'];

const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`]),
  ...SECRET_HEADERS.flatMap((header) => {
    const suffix = header.startsWith('[') ? header : `.${header}`;
    return [`headers${suffix}`, `*.headers${suffix}`, `*.*.headers${suffix}`];
  }),
  // The k3s join token inside a heartbeat's worker_join (PROTOCOL.md §6.4).
  'worker_join.env.K3S_TOKEN',
  '*.worker_join.env.K3S_TOKEN',
];

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  readonly name?: string;
  readonly bindings?: Record<string, unknown>;
  /** Write synchronously to this file descriptor (workers use fd 1 so logs bypass the main thread). */
  readonly fd?: number;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = pino.destination({ dest: options.fd ?? 1, sync: true });
  return pino(
    {
      level: options.level,
      // Every line names the version that wrote it, so logs from a mixed rollout can be told apart.
      base: { ...(options.name === undefined ? {} : { name: options.name }), version: AGENT_VERSION, ...options.bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that writes nothing, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
