// The namespace-create check of CLUSTER.md §2: a SelfSubjectAccessReview made *with the candidate token*
// asks whether that token may create namespaces. Only a clear answer counts; an API that cannot be asked
// (unreachable, review API not served) yields `unknown`, which callers treat as "keep the candidate".

import type { V1SelfSubjectAccessReview } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../util/clock.js';
import { boundedKubeCall } from '../../kube/bounded-call.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { isKubeStatus } from '../../kube/kube-failure.js';

export const TOKEN_REVIEW_TIMEOUT_MS = 3_000;

export const TokenVerdict = { allowed: 'allowed', denied: 'denied', unknown: 'unknown' } as const;
export type TokenVerdict = (typeof TokenVerdict)[keyof typeof TokenVerdict];

export interface TokenReviewer {
  canCreateNamespaces(token: string): Promise<TokenVerdict>;
}

const REVIEW: V1SelfSubjectAccessReview = {
  apiVersion: 'authorization.k8s.io/v1',
  kind: 'SelfSubjectAccessReview',
  spec: { resourceAttributes: { verb: 'create', resource: 'namespaces' } },
};

export interface SelfSubjectAccessReviewerOptions {
  /** The agent's own access: only its cluster (server and trust) is used, never its user. */
  readonly kube: KubeClient;
  readonly clock?: Clock;
  readonly timeoutMs?: number;
}

export class SelfSubjectAccessReviewer implements TokenReviewer {
  readonly #kube: KubeClient;
  readonly #clock: Clock;
  readonly #timeoutMs: number;

  constructor(options: SelfSubjectAccessReviewerOptions) {
    this.#kube = options.kube;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = options.timeoutMs ?? TOKEN_REVIEW_TIMEOUT_MS;
  }

  async canCreateNamespaces(token: string): Promise<TokenVerdict> {
    const asCandidate = this.#kube.withToken(token);
    try {
      const review = await boundedKubeCall(this.#clock, this.#timeoutMs, 'token review', (signal) =>
        asCandidate.create<V1SelfSubjectAccessReview | undefined>('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', REVIEW, signal),
      );
      const allowed = review?.status?.allowed;
      if (allowed === true) return TokenVerdict.allowed;
      return allowed === false ? TokenVerdict.denied : TokenVerdict.unknown;
    } catch (error) {
      // 401: the token is not (or no longer) accepted; 403: it may not even review itself.
      if (isKubeStatus(error, 401) || isKubeStatus(error, 403)) return TokenVerdict.denied;
      return TokenVerdict.unknown;
    } finally {
      // One review per candidate: its keep-alive socket would only idle.
      asCandidate.close();
    }
  }
}
