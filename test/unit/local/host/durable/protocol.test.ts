import {
  ActionType,
  decodeActionInput,
  failureDetailsOf,
  flattenActions,
  parseOrchestratorFailure,
  toJsonText,
} from '../../../../../local/host/durable/protocol';
import { retryDelayMs } from '../../../../../local/host/durable/retry';

// Internal SDK classes (no type declarations): the failure path is tested against the SDK's real encoding.
const { OrchestrationFailureError } = jest.requireActual<{
  OrchestrationFailureError: new (error: unknown, state: unknown) => Error;
}>('durable-functions/lib/src/error/OrchestrationFailureError');
const { OrchestratorState } = jest.requireActual<{ OrchestratorState: new (options: unknown) => unknown }>(
  'durable-functions/lib/src/orchestrations/OrchestratorState',
);

describe('durable protocol helpers', () => {
  it('flattens compound actions depth first, in the order the SDK numbers their tasks', () => {
    const activity = (n: string) => ({ actionType: ActionType.CallActivity, functionName: n });
    const flat = flattenActions([
      activity('a'),
      {
        actionType: ActionType.WhenAll,
        compoundActions: [
          activity('b'),
          { actionType: ActionType.WhenAny, compoundActions: [activity('c'), activity('d')] },
        ],
      },
      activity('e'),
    ]);
    expect(flat.map((a) => a.functionName)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('undoes the SDK encoding of string activity inputs only', () => {
    expect(decodeActionInput({ actionType: ActionType.CallActivity, input: '"x"' })).toBe('x');
    expect(decodeActionInput({ actionType: ActionType.CallActivity, input: { a: 1 } })).toEqual({ a: 1 });
    expect(decodeActionInput({ actionType: ActionType.CallSubOrchestrator, input: '"x"' })).toBe('"x"');
  });

  it('reads the message and custom status out of an OrchestrationFailureError', () => {
    const state = new OrchestratorState({
      isDone: false,
      actions: [[]],
      output: undefined,
      error: 'Error: it broke',
      customStatus: { stage: 2 },
      schemaVersion: 1,
    });
    const outcome = parseOrchestratorFailure(new OrchestrationFailureError(new Error('it broke'), state));
    expect(outcome.kind).toBe('failed');
    expect(outcome.kind === 'failed' && outcome.message).toBe('Error: it broke');
    expect(outcome.state?.customStatus).toEqual({ stage: 2 });
    expect(parseOrchestratorFailure(new Error('plain'))).toEqual({
      kind: 'failed',
      message: 'plain',
      state: undefined,
    });
  });

  it('unpacks failure details that an exception-properties provider serialized into the message', () => {
    const wrapped = new Error(
      JSON.stringify({ errorType: 'RangeError', errorMessage: 'too big', properties: { limit: 3 } }),
    );
    expect(failureDetailsOf(wrapped)).toMatchObject({
      ErrorType: 'RangeError',
      ErrorMessage: 'too big',
      Properties: { limit: 3 },
    });
    expect(failureDetailsOf(new TypeError('{not json'))).toMatchObject({
      ErrorType: 'TypeError',
      ErrorMessage: '{not json',
    });
  });

  it('encodes void results as null', () => {
    expect(toJsonText(undefined)).toBe('null');
    expect(toJsonText('s')).toBe('"s"');
  });

  it('computes retry delays with backoff and a cap', () => {
    const options = { firstRetryIntervalInMilliseconds: 100, maxNumberOfAttempts: 5, backoffCoefficient: 3 };
    expect([1, 2, 3].map((n) => retryDelayMs(options, n))).toEqual([100, 300, 900]);
    expect(retryDelayMs({ ...options, maxRetryIntervalInMilliseconds: 250 }, 3)).toBe(250);
    expect(retryDelayMs({ firstRetryIntervalInMilliseconds: 100, maxNumberOfAttempts: 2 }, 4)).toBe(100);
  });
});
