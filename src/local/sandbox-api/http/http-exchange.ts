// Bytes on the HTTP connection: reading request bodies under the apiserver's 3 MiB limit, and writing
// replies the way kube-apiserver encodes them (Go's JSON escaping and trailing newline, gzip above
// 128 KiB when the client accepts it, Audit-Id, Cache-Control and Warning headers).

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import YAML from 'yaml';
import { requestEntityTooLarge } from './api-status.js';
import type { JsonObject } from '../store/json-value.js';

/** kube-apiserver's MaxRequestBodyBytes */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;
/** responses at least this large are gzipped for clients that accept it (APIResponseCompression) */
export const GZIP_THRESHOLD_BYTES = 128 * 1024;

/** Reads the whole body; a body over the limit rejects with a 413 Status error. */
export function readBody(request: IncomingMessage, limitBytes = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let isTooLarge = false;
    request.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limitBytes) isTooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => (isTooLarge ? reject(requestEntityTooLarge(limitBytes)) : resolve(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

/** JSON as Go's encoding/json writes it: HTML-significant characters escaped, newline-terminated. */
export function encodeJson(body: JsonObject): Buffer {
  const text = JSON.stringify(body)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return Buffer.from(`${text}\n`, 'utf8');
}

/** YAML as sigs.k8s.io/yaml writes it (keys sorted, since it goes through a Go map). */
export function encodeYaml(body: JsonObject): Buffer {
  return Buffer.from(YAML.stringify(body, { sortMapEntries: true }), 'utf8');
}

export interface ReplyHead {
  readonly statusCode: number;
  readonly contentType: string;
  readonly warnings?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
}

function acceptsGzip(request: IncomingMessage): boolean {
  const header = request.headers['accept-encoding'];
  return typeof header === 'string' && header.split(',').some((part) => part.trim().split(';')[0] === 'gzip');
}

/** Headers every apiserver answer carries. */
export function commonHeaders(): Record<string, string> {
  return {
    'Audit-Id': randomUUID(),
    'Cache-Control': 'no-cache, private',
    'X-Kubernetes-Pf-Flowschema-Uid': '00000000-0000-0000-0000-000000000001',
    'X-Kubernetes-Pf-Prioritylevel-Uid': '00000000-0000-0000-0000-000000000002',
  };
}

export function sendBytes(request: IncomingMessage, response: ServerResponse, head: ReplyHead, body: Buffer): void {
  const headers: Record<string, string | string[]> = { ...commonHeaders(), ...head.headers, 'Content-Type': head.contentType };
  if (head.warnings !== undefined && head.warnings.length > 0) {
    headers['Warning'] = head.warnings.map((text) => `299 - ${JSON.stringify(text)}`);
  }
  let payload = body;
  if (body.length >= GZIP_THRESHOLD_BYTES && acceptsGzip(request)) {
    payload = gzipSync(body);
    headers['Content-Encoding'] = 'gzip';
    headers['Vary'] = 'Accept-Encoding';
  }
  headers['Content-Length'] = String(payload.length);
  response.writeHead(head.statusCode, headers);
  response.end(request.method === 'HEAD' ? undefined : payload);
}

export function sendText(request: IncomingMessage, response: ServerResponse, statusCode: number, text: string): void {
  sendBytes(request, response, { statusCode, contentType: 'text/plain; charset=utf-8', headers: { 'X-Content-Type-Options': 'nosniff' } }, Buffer.from(text));
}
