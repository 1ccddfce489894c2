/**
 * The out-of-process Durable Functions protocol as `durable-functions` v3 speaks it: the history events the
 * orchestration trigger receives, the actions its handler returns, and the status shape `DurableClient` parses.
 * Numbers and field names follow `node_modules/durable-functions/lib/src` (HistoryEventType, ActionType,
 * OrchestratorState, OrchestrationFailureError).
 */

export const HistoryEventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/**
 * Replay schema V2: actions come back as one (unflattened) list and timers are plain timers. V3 would switch on
 * long-timer splitting and HTTP polling, which this engine does not implement.
 */
export const UPPER_SCHEMA_VERSION = 1;

export interface FailureDetailsPayload {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
}

/** One history event as the orchestration trigger expects it (PascalCase, ISO timestamps). */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetailsPayload;
}

export interface RetryOptionsPayload {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** An action after a JSON round trip through the worker (dates are ISO strings by then). */
export interface OrchestratorAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptionsPayload;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  instanceId?: string;
  compoundActions?: OrchestratorAction[];
}

export interface OrchestratorState {
  isDone: boolean;
  actions: OrchestratorAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';

export const TERMINAL_STATUSES: readonly RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];

/** What `DurableOrchestrationStatus` is built from (it requires `input` and `output` to be present). */
export interface OrchestrationStatusBody {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  createdTime: string;
  lastUpdatedTime: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  history?: HistoryEvent[];
}

/** Depth-first, in the order the SDK assigns sequence numbers to the tasks behind the actions. */
export function flattenActions(actions: readonly OrchestratorAction[]): OrchestratorAction[] {
  const flat: OrchestratorAction[] = [];
  for (const action of actions) {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      flat.push(...flattenActions(action.compoundActions ?? []));
    } else {
      flat.push(action);
    }
  }
  return flat;
}

/**
 * `CallActivityAction` and `ContinueAsNewAction` JSON-encode string inputs (Utils.processInput) and the
 * extension decodes them before the activity sees them; other inputs travel as they are.
 */
export function decodeActionInput(action: OrchestratorAction): unknown {
  const encodesStrings =
    action.actionType === ActionType.CallActivity ||
    action.actionType === ActionType.CallActivityWithRetry ||
    action.actionType === ActionType.ContinueAsNew;
  if (encodesStrings && typeof action.input === 'string') return JSON.parse(action.input) as unknown;
  return action.input;
}

const OUT_OF_PROC_DATA_LABEL = '\n\n$OutOfProcData$:';

export type EpisodeOutcome =
  | { kind: 'state'; state: OrchestratorState }
  | { kind: 'failed'; message: string; state: OrchestratorState | undefined };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseOrchestratorState(value: unknown): OrchestratorState {
  if (!isRecord(value) || typeof value.isDone !== 'boolean' || !Array.isArray(value.actions)) {
    throw new Error(
      `The orchestrator returned something that is not an OrchestratorState: ${JSON.stringify(value)}`,
    );
  }
  // A JSON round trip turns Dates into strings and drops undefined, exactly as the worker's RPC would.
  return JSON.parse(JSON.stringify(value)) as OrchestratorState;
}

/**
 * The SDK reports an orchestrator failure by throwing OrchestrationFailureError, whose message carries the
 * user's error message and then the serialized state (custom status included) after a fixed label.
 */
export function parseOrchestratorFailure(err: unknown): EpisodeOutcome {
  const message = err instanceof Error ? err.message : String(err);
  const at = message.indexOf(OUT_OF_PROC_DATA_LABEL);
  if (at < 0) return { kind: 'failed', message, state: undefined };
  const stateJson = message.slice(at + OUT_OF_PROC_DATA_LABEL.length);
  let state: OrchestratorState | undefined;
  try {
    state = parseOrchestratorState(JSON.parse(stateJson));
  } catch (parseErr: unknown) {
    const why = parseErr instanceof Error ? parseErr.message : String(parseErr);
    return {
      kind: 'failed',
      message: `${message.slice(0, at)} (state unreadable: ${why})`,
      state: undefined,
    };
  }
  return { kind: 'failed', message: state.error ?? message.slice(0, at), state };
}

/**
 * Failure details for an activity's error. With an exception-properties provider registered, the SDK's
 * activity wrapper replaces the message with a JSON payload; that payload is unpacked here.
 */
export function failureDetailsOf(err: unknown): FailureDetailsPayload {
  const errorType = err instanceof Error ? err.name : typeof err;
  const message = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error ? err.stack : undefined;
  if (message.startsWith('{')) {
    try {
      const payload: unknown = JSON.parse(message);
      if (isRecord(payload) && typeof payload.errorMessage === 'string') {
        return {
          ErrorType: typeof payload.errorType === 'string' ? payload.errorType : errorType,
          ErrorMessage: payload.errorMessage,
          StackTrace: typeof payload.stackTrace === 'string' ? payload.stackTrace : stack,
          IsNonRetriable: payload.isNonRetriable === true,
          Properties: isRecord(payload.properties) ? payload.properties : undefined,
        };
      }
    } catch {
      // Not the wrapper's payload: a message that merely starts with a brace is still a plain message.
    }
  }
  return { ErrorType: errorType, ErrorMessage: message, StackTrace: stack };
}

/** History values are JSON text; `undefined` (a void activity) travels as `null`, as JSON has no undefined. */
export function toJsonText(value: unknown): string {
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('base64'));
  return JSON.stringify(value) ?? 'null';
}
