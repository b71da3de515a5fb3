// A minimal fake agent for tests of the local control plane: a real `ws` client whose every move is
// scripted by the test (what to send, which message to wait for). It implements no agent behaviour.

import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { CONTROLLER_PATH } from '../../src/protocol/constants.js';
import { encodeEnvelope, parseEnvelope, type Envelope, type JsonObject } from '../../src/protocol/envelope.js';

export const DEFAULT_AGENT_TOKEN = 'agent-token-for-tests';
const DEFAULT_WAIT_MS = 5000;

export interface ScriptedAgentOptions {
  /** Base URL of the control plane (`http(s)://127.0.0.1:PORT`) or a full ws(s) URL when `path` is ''. */
  readonly url: string;
  /** Path to dial; default the controller path. */
  readonly path?: string;
  /** Raw query without `?`. */
  readonly query?: string;
  /** Bearer token; `null` sends no Authorization header. */
  readonly token?: string | null;
  /** PEM CA to trust for wss. */
  readonly caPem?: string;
}

/** A §5.1-shaped register payload for `name`, with overrides. */
export function registerPayload(name: string, overrides: JsonObject = {}): JsonObject {
  return {
    agent_id: 'agent-0a1b2c3d4e5f6071',
    name,
    k8s_version: 'v1.31.2+k3s1',
    hostname: 'pipeops-agent-test',
    agent_version: '0.0.0-test',
    server_ip: '127.0.0.1',
    region: 'unknown-country',
    cloud_provider: 'agent',
    tunnel_port_config: { kubernetes_api: 6443, kubelet: 10250, agent_http: 8080 },
    labels: {},
    server_specs: {},
    features: {},
    metadata: { agent_mode: 'vm-agent', registration_mode: 'fresh' },
    ...overrides,
  };
}

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function agentUrl(options: ScriptedAgentOptions): string {
  const base = new URL(options.url);
  base.protocol = base.protocol === 'https:' || base.protocol === 'wss:' ? 'wss:' : 'ws:';
  if (options.path !== '') base.pathname = options.path ?? CONTROLLER_PATH;
  if (options.query !== undefined) base.search = options.query;
  return base.toString();
}

function clientOptions(options: ScriptedAgentOptions): ClientOptions {
  const token = options.token === undefined ? DEFAULT_AGENT_TOKEN : options.token;
  const headers: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token}` };
  return { headers, perMessageDeflate: false, ...(options.caPem === undefined ? {} : { ca: options.caPem }) };
}

/**
 * Dials and resolves the HTTP status of the handshake answer: 101 when accepted (the socket is then
 * closed), otherwise the refusal status.
 */
export function handshakeStatus(options: ScriptedAgentOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(agentUrl(options), clientOptions(options));
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (error) => reject(error));
  });
}

export interface ReceivedFrame {
  readonly isBinary: boolean;
  readonly data: Buffer;
  /** Parsed when the frame is JSON. */
  readonly envelope: Envelope | undefined;
}

export type EnvelopeHandler = (envelope: Envelope) => void;

export class ScriptedAgent {
  readonly ws: WebSocket;
  readonly received: ReceivedFrame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: ReceivedFrame[] = [];
  readonly #handlers = new Map<string, Set<EnvelopeHandler>>();
  #waiter: (() => void) | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
    ws.on('message', (data, isBinary) => {
      const bytes = rawBytes(data);
      const frame: ReceivedFrame = { isBinary, data: bytes, envelope: isBinary ? undefined : parseEnvelope(bytes) };
      this.received.push(frame);
      this.#queue.push(frame);
      const envelope = frame.envelope;
      if (envelope !== undefined) for (const handler of this.#handlers.get(envelope.type) ?? []) handler(envelope);
      this.#waiter?.();
    });
    ws.on('close', () => this.#waiter?.());
  }

  static connect(options: ScriptedAgentOptions): Promise<ScriptedAgent> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(agentUrl(options), clientOptions(options));
      const agent = new ScriptedAgent(ws);
      ws.once('open', () => resolve(agent));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode ?? 0}`)));
      ws.on('error', (error) => reject(error));
    });
  }

  /** Sends one JSON message in a text frame. */
  send(type: string, payload: JsonObject, requestId?: string): void {
    this.ws.send(encodeEnvelope(type, payload, requestId, Date.now()));
  }

  sendRaw(data: string | Uint8Array, isBinary: boolean): void {
    this.ws.send(data, { binary: isBinary });
  }

  /** Waits for the next frame accepted by `match` (frames before it are consumed and skipped). */
  async nextFrame(match: (frame: ReceivedFrame) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<ReceivedFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#queue.length > 0) {
        const frame = this.#queue.shift()!;
        if (match(frame)) return frame;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiter = () => {
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve();
        };
      });
    }
  }

  /**
   * Calls `handler` for every JSON message of `type` as it arrives (for an agent that must answer in the
   * background, e.g. kubectl's pod GET); the messages stay in the queue for next(). Returns the unsubscribe.
   */
  onEnvelope(type: string, handler: EnvelopeHandler): () => void {
    let handlers = this.#handlers.get(type);
    if (handlers === undefined) this.#handlers.set(type, (handlers = new Set()));
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  /** Messages of `type` received so far, in order. */
  countOf(type: string): number {
    return this.received.filter((frame) => frame.envelope?.type === type).length;
  }

  /** Waits for the next JSON message of `type`. */
  async next(type: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Envelope> {
    const frame = await this.nextFrame((candidate) => candidate.envelope?.type === type, timeoutMs);
    return frame.envelope!;
  }

  /** Sends `register` and returns the reply (register_success or error). */
  async register(name: string, overrides: JsonObject = {}, requestId = `req_1_agent-${name}`): Promise<Envelope> {
    this.send('register', registerPayload(name, overrides), requestId);
    const frame = await this.nextFrame((candidate) => candidate.envelope?.type === 'register_success' || candidate.envelope?.type === 'error');
    return frame.envelope!;
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }

  terminate(): void {
    this.ws.terminate();
  }
}
