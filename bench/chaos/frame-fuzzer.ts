// Mutated control-plane frames for the fuzz run: valid-looking messages of every inbound type (§8.1)
// with fields of the wrong type, dropped fields, odd key case, truncated JSON, random binary frames,
// JSON in binary frames, request-body frames for live and unknown ids, huge ids, unknown types,
// oversized relay control frames (ping/pong/close payloads over 125 bytes, §13.6), and now and then a
// frame over the agent's inbound cap. Deterministic for a seed.

import { encodeRequestBodyFrame } from '../../src/protocol/binary-frame.js';

export const FrameKind = {
  mutated: 'mutated',
  valid: 'valid',
  truncated: 'truncated',
  randomBinary: 'random-binary',
  jsonInBinary: 'json-in-binary',
  bodyFrame: 'body-frame',
  unknownType: 'unknown-type',
  hugeId: 'huge-id',
  oversizedControl: 'oversized-control',
  /** An unmutated start of a long-lived `cat` session, or the close of the oldest one. */
  session: 'session',
  overCap: 'over-cap',
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface FuzzFrame {
  readonly kind: FrameKind;
  readonly data: string | Buffer;
  readonly isBinary: boolean;
}

export interface FuzzContext {
  readonly random: () => number;
  /** Sent as Authorization on proxy_requests and session starts, so valid-looking ones reach the API. */
  readonly authorization: string;
  /** The agent's inbound cap: frames stay below it except the rare over-cap ones. */
  readonly inboundCapBytes: number;
  /** Sessions the run opened and saw connected before the fuzzing: half the oversized control frames aim at them. */
  readonly heldSessions?: readonly string[];
}

/** Relative weights of the frame kinds (over-cap frames are rare: each one costs a reconnect). */
const KIND_WEIGHTS: readonly (readonly [FrameKind, number])[] = [
  [FrameKind.mutated, 560],
  [FrameKind.valid, 60],
  [FrameKind.truncated, 90],
  [FrameKind.randomBinary, 60],
  [FrameKind.jsonInBinary, 50],
  [FrameKind.bodyFrame, 60],
  [FrameKind.unknownType, 50],
  [FrameKind.hugeId, 10],
  [FrameKind.oversizedControl, 20],
  [FrameKind.session, 2],
  [FrameKind.overCap, 0.01],
];
const KIND_TOTAL = KIND_WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
/** Over u16: a request-body frame cannot name such an id, and a binary response frame cannot carry it (§10). */
const HUGE_ID_LENGTH = 70_000;
const RECENT_IDS = 64;
/** Long-lived sessions (`cat` with stdin) kept open at once; the oldest is closed when a new one starts. */
const LIVE_SESSIONS = 8;
/**
 * Control frames for a session started fewer frames ago than this meet its pre-dial queue; older ones
 * meet the connected API socket (the path where a ws throw escaped containment), so most aim there.
 */
const SESSION_SETTLED_FRAMES = 1500;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Message = { [key: string]: Json };

export class FrameFuzzer {
  readonly #context: FuzzContext;
  readonly #recentIds: string[] = [];
  /** Sessions running `cat`: they stay open until closed, so oversized control frames meet a live session. */
  readonly #liveSessions: string[] = [];
  /** Frame number at which each live session was started. */
  readonly #sessionStartedAt = new Map<string, number>();
  #frames = 0;
  #counter = 0;

  constructor(context: FuzzContext) {
    this.#context = context;
  }

  next(): FuzzFrame {
    this.#frames++;
    const kind = this.#pickKind();
    switch (kind) {
      case FrameKind.mutated:
        return this.#text(kind, JSON.stringify(this.#mutate(this.#baseMessage())));
      case FrameKind.valid:
        return this.#text(kind, JSON.stringify(this.#baseMessage()));
      case FrameKind.truncated: {
        const text = JSON.stringify(this.#baseMessage());
        return this.#text(kind, text.slice(0, Math.floor(this.#random() * text.length)));
      }
      case FrameKind.randomBinary:
        return { kind, data: this.#randomBytes(Math.floor(this.#random() ** 3 * 4096)), isBinary: true };
      case FrameKind.jsonInBinary:
        return { kind, data: Buffer.from(JSON.stringify(this.#maybeMutate(this.#baseMessage()))), isBinary: true };
      case FrameKind.bodyFrame: {
        const id = this.#random() < 0.6 ? this.#recentId() : this.#randomString(1 + Math.floor(this.#random() * 40));
        return { kind, data: Buffer.from(encodeRequestBodyFrame(id, this.#randomBytes(Math.floor(this.#random() * 512)))), isBinary: true };
      }
      case FrameKind.unknownType:
        return this.#text(kind, JSON.stringify({ type: `fuzz_${this.#randomString(1 + Math.floor(this.#random() * 12))}`, request_id: this.#newId(), payload: {} }));
      case FrameKind.hugeId:
        return this.#hugeId();
      case FrameKind.oversizedControl:
        return this.#text(kind, JSON.stringify(this.#oversizedControl()));
      case FrameKind.session:
        return this.#text(kind, JSON.stringify(this.#liveSession()));
      case FrameKind.overCap:
        return { kind, data: Buffer.alloc(this.#context.inboundCapBytes + 1 + Math.floor(this.#random() * 1024), 0x7b), isBinary: this.#random() < 0.5 };
    }
  }

  #random(): number {
    return this.#context.random();
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!;
  }

  #pickKind(): FrameKind {
    let point = this.#random() * KIND_TOTAL;
    for (const [kind, weight] of KIND_WEIGHTS) {
      if (point < weight) return kind;
      point -= weight;
    }
    return FrameKind.mutated;
  }

  #text(kind: FrameKind, text: string): FuzzFrame {
    return { kind, data: text, isBinary: false };
  }

  #newId(): string {
    const id = `fz-${++this.#counter}`;
    this.#recentIds.push(id);
    if (this.#recentIds.length > RECENT_IDS) this.#recentIds.shift();
    return id;
  }

  #recentId(): string {
    return this.#recentIds.length === 0 ? this.#newId() : this.#pick(this.#recentIds);
  }

  #randomBytes(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = Math.floor(this.#random() * 256);
    return bytes;
  }

  #randomString(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_./?%&=\u00e9\u4e2d';
    let text = '';
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(this.#random() * alphabet.length)];
    return text;
  }

  #frameData(type: number, payload: Buffer): string {
    return Buffer.concat([Buffer.from([type]), payload]).toString('base64');
  }

  /** A message of a known inbound type with plausible fields; ids point at recent requests often. */
  #baseMessage(): Message {
    const auth = { Authorization: [this.#context.authorization] };
    const id = this.#random() < 0.5 ? this.#newId() : this.#recentId();
    const roll = this.#random();
    // proxy_requests cost an actor each: one base message in eight
    if (roll < 0.12) {
      const request: Message = { method: 'GET', path: this.#pick(['/api/v1/namespaces/default/pods/demo', '/api/v1/namespaces', '/version', '/api/v1/pods?limit=1', '/healthz']), headers: auth, timeout: 10_000 };
      const variant = this.#random();
      if (variant < 0.2) Object.assign(request, { method: 'POST', path: '/api/v1/namespaces/default/configmaps', body_binary: true, body_size: 16 });
      else if (variant < 0.35) Object.assign(request, { method: 'POST', path: '/api/v1/namespaces/default/configmaps', use_streaming: true });
      else if (variant < 0.45) Object.assign(request, { path: '/api/v1/namespaces/default/pods', query: 'watch=1&timeoutSeconds=1', supports_streaming: true });
      else if (variant < 0.46) Object.assign(request, { headers: { ...auth, Upgrade: ['websocket'], Connection: ['Upgrade'] }, path: '/api/v1/namespaces/default/pods/demo/exec', query: 'command=echo&command=fz&stdout=true' });
      else if (variant < 0.5) Object.assign(request, { service_name: 'web', namespace: 'default', service_port: 80, path: '/' });
      // a body_binary request that fails before its body arrives (invalid service name, §9.14)
      else if (variant < 0.55) {
        // without a timeout of its own the 30 s body timer is the only one left running
        Object.assign(request, { method: 'POST', service_name: 'Bad_Name!', namespace: 'default', service_port: 80, path: '/', body_binary: true, body_size: 4 });
        delete request['timeout'];
        // an id of its own: a cancel, body frame or duplicate from the fuzzer would end the wait early
        return { type: 'proxy_request', request_id: `fz-early-${++this.#counter}`, payload: request };
      }
      return { type: 'proxy_request', request_id: id, payload: request };
    }
    if (roll < 0.32) return { type: this.#pick(['proxy_request_chunk', 'proxy_request_stream_end']), request_id: id, payload: { data: this.#randomBytes(24).toString('base64') } };
    if (roll < 0.40) return { type: 'proxy_cancel', request_id: id, payload: {} };
    if (roll < 0.41) {
      return {
        type: this.#pick(['proxy_websocket_start', 'ws_start']),
        request_id: id,
        payload: { stream_id: id, method: 'GET', path: '/api/v1/namespaces/default/pods/demo/exec', query: 'command=echo&command=fz&stdout=true', protocol: 'v5.channel.k8s.io', headers: auth },
      };
    }
    if (roll < 0.60) {
      const frameType = this.#pick([1, 2, 8, 9, 10]);
      return { type: this.#pick(['proxy_websocket_data', 'ws_data']), request_id: id, payload: { stream_id: id, data: this.#frameData(frameType, this.#randomBytes(Math.floor(this.#random() * 64))) } };
    }
    if (roll < 0.66) return { type: this.#pick(['proxy_websocket_close', 'ws_close']), request_id: id, payload: { stream_id: id } };
    if (roll < 0.70) return { type: 'proxy_stream_data', request_id: id, payload: { data: this.#frameData(1, Buffer.from('hi')) } };
    if (roll < 0.78) return { type: this.#pick(['ping', 'pong', 'heartbeat_ack', 'register_in_progress']), request_id: id, payload: { timestamp: Date.now() } };
    if (roll < 0.82) return { type: 'error', payload: { error: 'fuzz: something went wrong' } };
    if (roll < 0.86) return { type: 'gateway_hello', payload: { use_yamux: this.#random() < 0.5, yamux_config: {} } };
    if (roll < 0.92) return { type: this.#pick(['tcp_tunnel_start', 'tcp_tunnel_data', 'tcp_tunnel_close', 'udp_tunnel_data']), request_id: id, payload: { tunnel_id: id, data: 'aGk=' } };
    return { type: 'register_success', request_id: id, payload: { cluster_id: 'c-fuzz', name: 'fuzz', status: 'active' } };
  }

  /** Sessions spawn a process in the sandbox pod: few of them, kept open so control frames meet them. */
  #liveSession(): Message {
    if (this.#liveSessions.length >= LIVE_SESSIONS) {
      const oldest = this.#liveSessions.shift()!;
      this.#sessionStartedAt.delete(oldest);
      return { type: 'proxy_websocket_close', request_id: oldest, payload: { stream_id: oldest } };
    }
    // not among the recent ids: random closes and data must not end these sessions behind the fuzzer's back
    const id = `fz-live-${++this.#counter}`;
    this.#liveSessions.push(id);
    this.#sessionStartedAt.set(id, this.#frames);
    return {
      type: 'proxy_websocket_start',
      request_id: id,
      payload: {
        stream_id: id,
        path: '/api/v1/namespaces/default/pods/demo/exec',
        query: 'command=cat&stdin=true&stdout=true',
        protocol: 'v5.channel.k8s.io',
        headers: { Authorization: [this.#context.authorization] },
      },
    };
  }

  #maybeMutate(message: Message): Message {
    return this.#random() < 0.5 ? this.#mutate(message) : message;
  }

  #randomValue(): Json {
    return this.#pick<() => Json>([
      () => null,
      () => true,
      () => -1,
      () => 0,
      () => 1.5,
      () => 1e308,
      () => Number.MAX_SAFE_INTEGER * 4,
      () => '',
      () => this.#randomString(1 + Math.floor(this.#random() * 32)),
      () => 'x'.repeat(this.#random() < 0.2 ? 10_000 + Math.floor(this.#random() * 20_000) : 300),
      () => [1, 'a', null],
      () => [],
      () => ({ nested: { deeper: [{}] } }),
      () => ({}),
      () => '8760h',
      () => '-5s',
      () => 'not base64 !!',
    ])();
  }

  /** One to three of: a field swapped to another type, a field dropped, envelope keys in other case, payload not an object. */
  #mutate(message: Message): Message {
    const copy: Message = JSON.parse(JSON.stringify(message)) as Message;
    const rounds = 1 + Math.floor(this.#random() * 3);
    for (let i = 0; i < rounds; i++) {
      const payload = copy['payload'];
      const isPayloadObject = typeof payload === 'object' && payload !== null && !Array.isArray(payload);
      const roll = this.#random();
      if (roll < 0.55 && isPayloadObject) {
        const keys = Object.keys(payload);
        const key = keys.length > 0 && this.#random() < 0.8 ? this.#pick(keys) : this.#pick(['timeout', 'headers', 'body', 'query', 'stream_id', 'data', 'message_type', 'body_size', 'service_port']);
        if (this.#random() < 0.15) delete payload[key];
        else payload[key] = this.#randomValue();
      } else if (roll < 0.75) {
        const key = this.#pick(['type', 'request_id', 'payload', 'timestamp']);
        if (this.#random() < 0.2) delete copy[key];
        else copy[key] = this.#randomValue();
      } else if (roll < 0.9 && Object.keys(copy).length > 0) {
        const key = this.#pick(Object.keys(copy));
        const value = copy[key]!;
        delete copy[key];
        copy[this.#random() < 0.5 ? key.toUpperCase() : key.charAt(0).toUpperCase() + key.slice(1)] = value;
      } else {
        copy['payload'] = this.#pick<Json>(['payload', 42, [1, 2], true]);
      }
    }
    return copy;
  }

  #hugeId(): FuzzFrame {
    const id = `fz-huge-${'i'.repeat(HUGE_ID_LENGTH)}`;
    const roll = this.#random();
    if (roll < 0.4) {
      const request = { method: 'GET', path: '/version', headers: { Authorization: [this.#context.authorization] }, body_binary: this.#random() < 0.5 };
      return this.#text(FrameKind.hugeId, JSON.stringify({ type: 'proxy_request', request_id: id, payload: request }));
    }
    if (roll < 0.7) return this.#text(FrameKind.hugeId, JSON.stringify({ type: 'proxy_websocket_start', request_id: id, payload: { stream_id: id, path: '/api/v1/namespaces/default/pods/demo/exec', query: 'command=echo&stdout=true' } }));
    return this.#text(FrameKind.hugeId, JSON.stringify({ type: this.#pick(['ping', 'proxy_cancel', 'ws_data', 'fuzz_huge']), request_id: id, payload: { stream_id: id } }));
  }

  /** Relay control frames over the WebSocket limits (§13.6), aimed at a recent (possibly live) session. */
  #oversizedControl(): Message {
    const settled = this.#liveSessions.filter((session) => this.#frames - (this.#sessionStartedAt.get(session) ?? this.#frames) >= SESSION_SETTLED_FRAMES);
    const targets = settled.length > 0 && this.#random() < 0.8 ? settled : this.#liveSessions;
    const held = this.#context.heldSessions ?? [];
    const id = held.length > 0 && this.#random() < 0.5 ? this.#pick(held) : targets.length > 0 && this.#random() < 0.8 ? this.#pick(targets) : this.#recentId();
    const frameType = this.#pick([8, 9, 9, 10, 10]);
    // a close frame ends the session: later control frames should meet another live one
    if (frameType === 8 && this.#liveSessions.includes(id)) {
      this.#liveSessions.splice(this.#liveSessions.indexOf(id), 1);
      this.#sessionStartedAt.delete(id);
    }
    const length = 126 + Math.floor(this.#random() * 400);
    const payload = frameType === 8 ? Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('é'.repeat(length))]) : this.#randomBytes(length);
    if (this.#random() < 0.2) return { type: 'ping', request_id: id, payload: { data: 'x'.repeat(length * 100) } };
    return { type: 'proxy_websocket_data', request_id: id, payload: { stream_id: id, data: this.#frameData(frameType, payload) } };
  }
}
