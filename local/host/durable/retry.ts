import type { RetryOptionsPayload } from './protocol';

/**
 * The wait before the next attempt, as the Durable Task Framework computes it: the first interval times the
 * backoff coefficient to the power of the failures so far (1 after the first failure), capped by the maximum
 * interval. `failuresSoFar` starts at 1.
 */
export function retryDelayMs(options: RetryOptionsPayload, failuresSoFar: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, failuresSoFar - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap !== undefined && cap > 0 ? Math.min(delay, cap) : delay;
}
