// The shapes passed between the HTTP layer and the resource handlers: a parsed resource request, the
// reply a handler returns, and what handlers need from the server (store, IP allocation, clock).

import type { ResourceTarget } from '../http/api-path.js';
import type { JsonObject } from '../store/json-value.js';
import type { MediaType, OutputChoice } from '../http/media-type.js';
import type { ObjectStore } from '../store/object-store.js';

export interface ResourceRequest {
  readonly target: ResourceTarget;
  readonly method: string;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly contentType: MediaType | undefined;
  readonly output: OutputChoice;
}

export interface ApiReply {
  readonly statusCode: number;
  readonly body: JsonObject;
  /** overrides the negotiated Content-Type (tables, partial metadata) */
  readonly contentType?: string;
  /** `Warning: 299 - "<text>"` headers */
  readonly warnings?: readonly string[];
}

export interface EndpointContext {
  readonly store: ObjectStore;
  /** next free address of the Service ClusterIP range */
  allocateClusterIp(): string;
  /** next free node port (30000-32767) not in `taken` */
  allocateNodePort(taken: ReadonlySet<number>): number;
}
