// The root pino logger. Tokens and Authorization headers are redacted wherever they appear in a logged
// object; callers still never put a token into a message string.

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'k8s_service_token',
  '*.k8s_service_token',
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
      base: { ...(options.name === undefined ? {} : { name: options.name }), ...options.bindings },
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
