// The WorkerConfig as a pool worker receives it: piscina's workerData is a structured clone of whatever
// the main thread passed, so a worker checks it once, at its first task, before anything reads it. A bad
// field fails the worker with a message that names the field (never its value: the config holds a token).

import { CompressionEngine, DEFAULT_WORKER_TUNING, type WorkerConfig, type WorkerTuning } from '../config/agent-config.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { KubeTarget } from '../kube/kube-target.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { type Fields, isCount, isOneOf, isRecord } from './message-fields.js';

export function parseWorkerConfig(value: unknown): WorkerConfig {
  const config = record(value, 'workerData');
  const logLevel = config['logLevel'];
  if (!(LOG_LEVELS as readonly unknown[]).includes(logLevel)) throw invalid('workerData.logLevel', `one of ${LOG_LEVELS.join(', ')}`);
  const compression = config['compression'];
  if (!isOneOf(CompressionEngine, compression)) throw invalid('workerData.compression', `one of ${Object.values(CompressionEngine).join(', ')}`);
  return {
    logLevel: logLevel as LogLevel,
    kubeconfig: optionalText(config, 'kubeconfig', 'workerData'),
    kube: config['kube'] === undefined ? undefined : parseKubeTarget(config['kube']),
    compression,
    requestTimeoutMs: count(config, 'requestTimeoutMs', 'workerData'),
    dropAcceptEncoding: flag(config, 'dropAcceptEncoding', 'workerData'),
    tuning: parseTuning(config['tuning']),
  };
}

function parseKubeTarget(value: unknown): KubeTarget {
  const kube = record(value, 'workerData.kube');
  const at = 'workerData.kube';
  const server = kube['server'];
  if (typeof server !== 'string' || server === '') throw invalid(`${at}.server`, 'a non-empty string');
  return {
    server,
    ca: optionalText(kube, 'ca', at),
    caFile: optionalText(kube, 'caFile', at),
    rejectUnauthorized: flag(kube, 'rejectUnauthorized', at),
    tlsServerName: optionalText(kube, 'tlsServerName', at),
    agentToken: optionalText(kube, 'agentToken', at),
    agentTokenFile: optionalText(kube, 'agentTokenFile', at),
  };
}

/** Every tuning field has the type of its default, so a field added to the defaults is checked too. */
function parseTuning(value: unknown): WorkerTuning {
  const tuning = record(value, 'workerData.tuning');
  const parsed: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_WORKER_TUNING)) {
    const at = 'workerData.tuning';
    if (typeof fallback === 'number') parsed[key] = count(tuning, key, at);
    else if (typeof fallback === 'boolean') parsed[key] = flag(tuning, key, at);
    else parsed[key] = textRecord(tuning[key], `${at}.${key}`);
  }
  return parsed as unknown as WorkerTuning;
}

function record(value: unknown, name: string): Fields {
  if (!isRecord(value)) throw invalid(name, 'an object');
  return value;
}

function count(fields: Fields, key: string, at: string): number {
  const value = fields[key];
  if (!isCount(value)) throw invalid(`${at}.${key}`, 'a finite number, zero or more');
  return value;
}

function flag(fields: Fields, key: string, at: string): boolean {
  const value = fields[key];
  if (typeof value !== 'boolean') throw invalid(`${at}.${key}`, 'a boolean');
  return value;
}

function optionalText(fields: Fields, key: string, at: string): string | undefined {
  const value = fields[key];
  if (value !== undefined && typeof value !== 'string') throw invalid(`${at}.${key}`, 'a string or absent');
  return value;
}

function textRecord(value: unknown, name: string): Readonly<Record<string, string>> {
  const fields = record(value, name);
  for (const [key, entry] of Object.entries(fields)) {
    if (typeof entry !== 'string') throw invalid(`${name}.${key}`, 'a string');
  }
  return { ...fields } as Record<string, string>;
}

function invalid(name: string, expected: string): AgentError {
  return new AgentError(ErrorCode.configInvalid, `invalid worker config: ${name} must be ${expected}`);
}
