// The HTTP relay's failures carry a code from src/errors.ts (issue: errors with codes end to end), so the
// code can cross the thread boundary with the message instead of being guessed from the text.

import test from 'ava';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { RelayFailure, asRelayFailure } from '../../workers/lib/upstream-exchange.js';
import { BodyIntakeError } from '../../workers/lib/request-body.js';

test('a RelayFailure is an AgentError whose code follows its outcome unless given', (t) => {
  const codes = (['invalid', 'upstream_error', 'timeout', 'canceled'] as const).map((outcome) => new RelayFailure(outcome, 'x').code);
  t.deepEqual(codes, [ErrorCode.requestInvalid, ErrorCode.upstreamFailed, ErrorCode.upstreamTimeout, ErrorCode.requestCanceled]);
  const tooLarge = new RelayFailure('upstream_error', 'response body too large', ErrorCode.responseTooLarge);
  t.true(tooLarge instanceof AgentError);
  t.is(tooLarge.code, ErrorCode.responseTooLarge);
  t.is(tooLarge.message, 'response body too large');
});

test('body intake failures keep their code and the protocol text; unexpected exceptions are the actor failing', (t) => {
  const intake = asRelayFailure(new BodyIntakeError('binary body not received'));
  t.is(intake.outcome, 'invalid');
  t.is(intake.code, ErrorCode.requestBodyFailed);
  t.is(intake.message, 'binary body not received');
  const bug = asRelayFailure(new TypeError('x is undefined'));
  t.is(bug.code, ErrorCode.actorFailed);
  t.is(bug.message, 'agent error: x is undefined');
  const same = new RelayFailure('timeout', 'context deadline exceeded');
  t.is(asRelayFailure(same), same);
});
