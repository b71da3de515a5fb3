// The one table of error codes. Messages are for people; code branches on `code`. docs/errors.md lists
// every code (a meta test keeps the two in step).

export const ErrorCode = {
  configInvalid: 'AGENT_ERR_CONFIG_INVALID',
  poolSaturated: 'AGENT_ERR_POOL_SATURATED',
  actorFailed: 'AGENT_ERR_ACTOR_FAILED',
  requestInvalid: 'AGENT_ERR_REQUEST_INVALID',
  requestDuplicate: 'AGENT_ERR_REQUEST_DUPLICATE',
  requestBodyFailed: 'AGENT_ERR_REQUEST_BODY_FAILED',
  requestCanceled: 'AGENT_ERR_REQUEST_CANCELED',
  upstreamFailed: 'AGENT_ERR_UPSTREAM_FAILED',
  upstreamTimeout: 'AGENT_ERR_UPSTREAM_TIMEOUT',
  kubeUnavailable: 'AGENT_ERR_KUBE_UNAVAILABLE',
  responseTooLarge: 'AGENT_ERR_RESPONSE_TOO_LARGE',
  linkAuthRejected: 'AGENT_ERR_LINK_AUTH_REJECTED',
  linkRegistrationFailed: 'AGENT_ERR_LINK_REGISTRATION_FAILED',
  shuttingDown: 'AGENT_ERR_SHUTTING_DOWN',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a stable machine code; crosses threads as the plain `WireError` shape. */
export class AgentError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}

/** The cloneable form of an error posted between threads. */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** The cloneable form of an error: structured clone drops the subclass and its `code`, so only data crosses. */
export function toWireError(error: AgentError): WireError {
  return { code: error.code, message: error.message };
}
