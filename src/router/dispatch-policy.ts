// Where a short-lane request runs when the agent has worker threads: inline on the main thread or on a
// worker. Measured (docs/decisions.md, "Dispatch policy"): the hop to a worker and back costs tens of µs
// per request plus a structured clone or transfer each way, which is more than a small request's whole
// relay; gzip of a 1 MB list costs milliseconds, which would stall every other stream on the main thread.
// So small requests stay inline and large or compressible ones go to workers, decided from the request's
// shape and the response sizes seen for that shape before.
//
//   request ─► body > 64 KiB? ─► workers
//           └► shape seen before? ─► its response ≥ 32 KiB ─► workers, else inline
//                              └─ no ─► a kube collection (a list) ─► workers, else inline

export const Placement = { inline: 'inline', workers: 'workers' } as const;
export type Placement = (typeof Placement)[keyof typeof Placement];

/** A request body above this is parsed and decoded off the main thread. */
export const INLINE_MAX_REQUEST_BYTES = 64 * 1024;
/** A response whose upstream body was at least this big goes to workers next time (gzip ≈ 1 ms per 100 KB here). */
export const INLINE_MAX_RESPONSE_BYTES = 32 * 1024;
/** Shapes remembered; the oldest is forgotten first. */
const MAX_SHAPES = 4096;
/** Weight of the newest response size in a shape's running estimate. */
const LEARNING_RATE = 0.5;

/**
 * A request's shape: method and path with namespace and object names wildcarded, so that every `get
 * configmap/<name>` shares one estimate and every `list pods` another. Non-Kubernetes paths keep their path.
 */
export function requestShape(method: string, path: string): string {
  const segments = path.split('/');
  // /api/v1/<rest> or /apis/<group>/<version>/<rest>
  const prefixLength = segments[1] === 'api' ? 3 : segments[1] === 'apis' ? 4 : -1;
  if (prefixLength < 0 || segments.length <= prefixLength) return `${method} ${path}`;
  const rest = segments.slice(prefixLength);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest.splice(0, 2);
  if (rest.length >= 2) rest[1] = '*';
  return `${method} ${segments.slice(0, prefixLength).join('/')}/${rest.join('/')}`;
}

/** True for a Kubernetes collection path (a list), whose size depends on the cluster, not the request. */
export function isCollectionShape(shape: string): boolean {
  const path = shape.slice(shape.indexOf(' ') + 1);
  if (!path.startsWith('/api/') && !path.startsWith('/apis/')) return false;
  return !path.includes('/*');
}

export class DispatchPolicy {
  readonly #responseBytes = new Map<string, number>();

  place(shape: string, frameBytes: number): Placement {
    if (frameBytes > INLINE_MAX_REQUEST_BYTES) return Placement.workers;
    const learned = this.#responseBytes.get(shape);
    if (learned !== undefined) return learned >= INLINE_MAX_RESPONSE_BYTES ? Placement.workers : Placement.inline;
    return isCollectionShape(shape) ? Placement.workers : Placement.inline;
  }

  /** Records the upstream body size of a finished request of this shape. */
  learn(shape: string, responseBytes: number): void {
    const previous = this.#responseBytes.get(shape);
    if (previous === undefined && this.#responseBytes.size >= MAX_SHAPES) {
      const oldest = this.#responseBytes.keys().next().value;
      if (oldest !== undefined) this.#responseBytes.delete(oldest);
    }
    this.#responseBytes.set(shape, previous === undefined ? responseBytes : previous + LEARNING_RATE * (responseBytes - previous));
  }

  get shapeCount(): number {
    return this.#responseBytes.size;
  }
}
