// Where piscina's own errors are mapped to the agent's codes, and nowhere else. piscina's queue-full
// rejection carries no code, only the text pinned by a unit test against the installed version.

import { AgentError, ErrorCode } from '../errors.js';

const PISCINA_QUEUE_FULL = 'Task queue is at limit';

export function mapPoolError(error: unknown): AgentError {
  if (error instanceof AgentError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message === PISCINA_QUEUE_FULL) return new AgentError(ErrorCode.poolSaturated, 'too many concurrent requests', { cause: error });
  return new AgentError(ErrorCode.actorFailed, `actor failed: ${message}`, { cause: error });
}
