/**
 * Runs orchestration episodes. An episode takes the instance's oldest inbox message, appends it to the history
 * (after an OrchestratorStarted event), runs the orchestrator function over the whole history, records the
 * actions it returns that are new, and commits history, counters and new work in one write.
 *
 * Each episode handles exactly one message. That keeps this engine's numbering of tasks in lock step with the
 * SDK's: the SDK numbers a task when the orchestrator yields it and numbers a retry's timer and next attempt
 * while it processes the failure or timer event, before it resumes the orchestrator. With one new event per
 * episode the engine knows the order: first the retry bookkeeping for that event, then the new actions.
 */
import { randomUUID } from 'crypto';
import type { FunctionRegistry } from '../registry';
import {
  ActionType,
  HistoryEventType,
  TERMINAL_STATUSES,
  UPPER_SCHEMA_VERSION,
  decodeActionInput,
  flattenActions,
  parseOrchestratorFailure,
  parseOrchestratorState,
  toJsonText,
  type EpisodeOutcome,
  type HistoryEvent,
  type OrchestratorAction,
  type RuntimeStatus,
} from './protocol';
import { retryDelayMs } from './retry';
import {
  newMessageKey,
  workKeys,
  type DurableStore,
  type InstanceMessage,
  type InstanceRecord,
  type StoreOp,
  type StoredWork,
  type WorkItem,
} from './store';

export interface RunnerOptions {
  store: DurableStore;
  registry: FunctionRegistry;
  log: (level: string, msg: string) => void;
  /** Called after a commit with the work items it created, so they start without waiting for a scan. */
  onNewWork: (work: StoredWork[]) => void;
  /** Called after an instance reaches Completed, Failed or Terminated (used by waiters and tests). */
  onTerminal?: (instanceId: string, status: RuntimeStatus) => void;
}

/** How often an episode is retried when its commit loses a race (e.g. an activity completed meanwhile). */
const COMMIT_ATTEMPTS = 5;

function event(type: number, fields: Partial<HistoryEvent> = {}, eventId = -1): HistoryEvent {
  return {
    EventType: type,
    EventId: eventId,
    IsPlayed: false,
    Timestamp: new Date().toISOString(),
    ...fields,
  };
}

function parseJsonText(text: string | undefined): unknown {
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}

export class OrchestrationRunner {
  readonly #opts: RunnerOptions;
  /** Instances with an episode loop in flight; the flag asks the loop to look again before it ends. */
  readonly #active = new Map<string, { rerun: boolean; done: Promise<void> }>();
  #stopping = false;

  constructor(opts: RunnerOptions) {
    this.#opts = opts;
  }

  /** Makes sure the instance's inbox gets processed; never runs two episodes of one instance at once. */
  dispatch(instanceId: string): void {
    if (this.#stopping) return;
    const running = this.#active.get(instanceId);
    if (running) {
      running.rerun = true;
      return;
    }
    const entry = { rerun: false, done: Promise.resolve() };
    entry.done = this.#loop(instanceId, entry).finally(() => this.#active.delete(instanceId));
    this.#active.set(instanceId, entry);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#active.values()].map((a) => a.done));
  }

  async #loop(instanceId: string, entry: { rerun: boolean }): Promise<void> {
    do {
      entry.rerun = false;
      try {
        while (!this.#stopping && (await this.#episodeWithRetries(instanceId))) {
          // Each pass handles one message; keep going while the inbox has more.
        }
      } catch (err: unknown) {
        this.#opts.log('error', `durable: episode loop of ${instanceId} stopped: ${describe(err)}`);
        return;
      }
    } while (entry.rerun && !this.#stopping);
  }

  async #episodeWithRetries(instanceId: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#episode(instanceId);
      } catch (err: unknown) {
        if (attempt >= COMMIT_ATTEMPTS) throw err;
        this.#opts.log('warning', `durable: episode of ${instanceId} retried after: ${describe(err)}`);
      }
    }
  }

  /** Handles the oldest inbox message; returns whether there was one. */
  async #episode(instanceId: string): Promise<boolean> {
    const { store } = this.#opts;
    const partition = await store.loadPartition(instanceId);
    const next = partition.messages[0];
    if (!next) return false;
    const record = partition.instance;
    const consume: StoreOp = { op: 'delete', rowKey: next.rowKey };
    const message = next.item.message;
    const stale =
      message.type === 'event' &&
      message.executionId !== undefined &&
      message.executionId !== record?.executionId;
    if (!record || TERMINAL_STATUSES.includes(record.status) || stale) {
      // Late results for a finished, purged or restarted (continueAsNew) execution have nothing to resume.
      await store.commit(instanceId, [consume]);
      return true;
    }

    const plan = new EpisodePlan(record, partition.history.length);
    if (message.type === 'terminate') {
      plan.append(event(HistoryEventType.ExecutionTerminated, { Input: toJsonText(message.reason) }));
      plan.finish('Terminated', toJsonText(message.reason));
    } else {
      await this.#runOrchestrator(plan, partition.history, message);
    }

    const ops: StoreOp[] = [];
    plan.newHistory.forEach((e, i) => ops.push({ op: 'putHistory', index: plan.historyBase + i, event: e }));
    for (const w of plan.newWork) ops.push({ op: 'putWork', rowKey: w.rowKey, item: w.item });
    if (plan.finished) {
      // A finished (or restarted) execution owns no pending work any more.
      for (const w of partition.work) {
        if (w.item.kind !== 'notifyParent' && !plan.newWork.some((n) => n.rowKey === w.rowKey)) {
          ops.push({ op: 'delete', rowKey: w.rowKey });
        }
      }
    }
    ops.push(consume);
    ops.push({ op: 'upsertInstance', record: plan.record });
    await store.commit(instanceId, ops);

    this.#opts.onNewWork(plan.newWork.map((w) => ({ instanceId, rowKey: w.rowKey, item: w.item })));
    if (plan.finished && TERMINAL_STATUSES.includes(plan.record.status)) {
      this.#opts.log('information', `durable: ${plan.record.name} (${instanceId}) ${plan.record.status}`);
      this.#opts.onTerminal?.(instanceId, plan.record.status);
    }
    if (plan.continuedAsNew) this.dispatch(instanceId);
    return true;
  }

  async #runOrchestrator(
    plan: EpisodePlan,
    pastHistory: HistoryEvent[],
    message: InstanceMessage,
  ): Promise<void> {
    const { record } = plan;
    plan.append(event(HistoryEventType.OrchestratorStarted));
    if (message.type === 'start') {
      plan.append(event(HistoryEventType.ExecutionStarted, { Name: record.name, Input: record.input }));
      plan.record.status = 'Running';
    } else if (message.type === 'event') {
      plan.append({ ...message.event, Timestamp: new Date().toISOString() });
      plan.applyRetryBookkeeping(message.event);
    }

    const fn = this.#opts.registry.get(record.name);
    if (!fn || fn.trigger.type.toLowerCase() !== 'orchestrationtrigger') {
      plan.fail(`The orchestrator function '${record.name}' does not exist.`);
      return;
    }
    const history = [...pastHistory, ...plan.newHistory].map((e, i) => ({
      ...e,
      IsPlayed: i < plan.historyBase,
    }));
    const payload = {
      history,
      input: parseJsonText(record.input),
      instanceId: record.instanceId,
      parentInstanceId: record.parent?.instanceId,
      isReplaying: plan.historyBase > 0,
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      maximumShortTimerDuration: '6.00:00:00',
      longRunningTimerIntervalDuration: '3.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };

    let outcome: EpisodeOutcome;
    try {
      const result = await this.#opts.registry.invoke(fn.name, {
        triggerData: { json: JSON.stringify(payload) },
      });
      outcome = { kind: 'state', state: parseOrchestratorState(result.returnValue) };
    } catch (err: unknown) {
      outcome = parseOrchestratorFailure(err);
    }

    if (outcome.state?.customStatus !== undefined)
      record.customStatus = toJsonText(outcome.state.customStatus);
    if (outcome.kind === 'failed') {
      plan.fail(`Orchestrator function '${record.name}' failed: ${outcome.message}`);
      return;
    }
    const { state } = outcome;
    const flat = flattenActions(state.actions[0] ?? []);
    const fresh = flat.slice(record.recordedActions);
    record.recordedActions = flat.length;
    const continueAsNew = fresh.find((a) => a.actionType === ActionType.ContinueAsNew);
    if (state.isDone && continueAsNew) {
      plan.continueAsNew(toJsonText(decodeActionInput(continueAsNew)));
      return;
    }
    if (state.isDone) {
      plan.append(event(HistoryEventType.ExecutionCompleted, { Result: toJsonText(state.output) }));
      plan.finish('Completed', toJsonText(state.output));
      return;
    }
    for (const action of fresh) {
      const problem = plan.schedule(action);
      if (problem) {
        plan.fail(`Orchestrator function '${record.name}' failed: ${problem}`);
        return;
      }
    }
  }
}

/** The changes one episode makes to an instance, collected before anything is written. */
class EpisodePlan {
  readonly record: InstanceRecord;
  readonly historyBase: number;
  readonly newHistory: HistoryEvent[] = [];
  readonly newWork: { rowKey: string; item: WorkItem }[] = [];
  finished = false;
  continuedAsNew = false;

  constructor(record: InstanceRecord, historyBase: number) {
    this.record = { ...record, retries: record.retries.map((g) => ({ ...g })) };
    this.historyBase = historyBase;
  }

  append(e: HistoryEvent): void {
    this.newHistory.push(e);
    this.record.historyLength = this.historyBase + this.newHistory.length;
    this.record.lastUpdatedTime = new Date().toISOString();
  }

  /**
   * Mirrors the SDK's RetryableTask for the event being added: a failed attempt gets a retry timer (the SDK
   * waits on one even after the last attempt, so that one fires at once), and a fired retry timer starts the
   * next attempt unless the attempts are used up.
   */
  applyRetryBookkeeping(e: HistoryEvent): void {
    const isFailure =
      e.EventType === HistoryEventType.TaskFailed ||
      e.EventType === HistoryEventType.SubOrchestrationInstanceFailed;
    const isSuccess =
      e.EventType === HistoryEventType.TaskCompleted ||
      e.EventType === HistoryEventType.SubOrchestrationInstanceCompleted;
    if (isSuccess || isFailure) {
      const group = this.record.retries.find((g) => g.currentTaskId === e.TaskScheduledId);
      if (!group) return;
      if (isSuccess) {
        this.record.retries = this.record.retries.filter((g) => g !== group);
        return;
      }
      const failures = group.attempt;
      group.attempt += 1;
      const exhausted = group.attempt > group.options.maxNumberOfAttempts;
      const delay = exhausted ? 0 : retryDelayMs(group.options, failures);
      group.waitingTimerId = this.#addTimer(new Date(Date.now() + delay).toISOString());
    } else if (e.EventType === HistoryEventType.TimerFired) {
      const group = this.record.retries.find((g) => g.waitingTimerId === e.TimerId);
      if (!group) return;
      group.waitingTimerId = undefined;
      if (group.attempt > group.options.maxNumberOfAttempts) {
        this.record.retries = this.record.retries.filter((g) => g !== group);
        return;
      }
      group.currentTaskId =
        group.kind === 'activity'
          ? this.#addActivity(group.name, group.input)
          : this.#addChild(group.name, group.input, group.fixedInstanceId);
    }
  }

  /** Records one new action; returns a message when the engine cannot run it. */
  schedule(action: OrchestratorAction): string | undefined {
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const input = toJsonText(decodeActionInput(action));
        const name = action.functionName ?? '';
        const taskId = this.#addActivity(name, input);
        if (action.actionType === ActionType.CallActivityWithRetry && action.retryOptions) {
          this.record.retries.push({
            kind: 'activity',
            name,
            input,
            options: action.retryOptions,
            attempt: 1,
            currentTaskId: taskId,
          });
        }
        return undefined;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const input = action.input === undefined ? undefined : toJsonText(action.input);
        const name = action.functionName ?? '';
        const taskId = this.#addChild(name, input, action.instanceId);
        if (action.actionType === ActionType.CallSubOrchestratorWithRetry && action.retryOptions) {
          this.record.retries.push({
            kind: 'subOrchestration',
            name,
            input: input ?? 'null',
            options: action.retryOptions,
            attempt: 1,
            currentTaskId: taskId,
            fixedInstanceId: action.instanceId,
          });
        }
        return undefined;
      }
      case ActionType.CreateTimer:
        this.#addTimer(action.fireAt ?? new Date().toISOString(), action.isCanceled === true);
        return undefined;
      case ActionType.WaitForExternalEvent:
      case ActionType.ContinueAsNew:
        // Events are matched by name in the SDK, and continueAsNew only matters once the orchestrator is done.
        return undefined;
      default:
        return `the local durable engine does not support action type ${action.actionType} (entities and durable HTTP are not implemented)`;
    }
  }

  fail(message: string): void {
    const details = { ErrorType: 'OrchestrationFailure', ErrorMessage: message };
    this.append(event(HistoryEventType.ExecutionFailed, { Reason: message, FailureDetails: details }));
    this.finish('Failed', toJsonText(message));
  }

  finish(status: RuntimeStatus, output: string): void {
    this.record.status = status;
    this.record.output = output;
    this.record.retries = [];
    this.finished = true;
    const parent = this.record.parent;
    if (!parent || status === 'Terminated') return;
    const completion =
      status === 'Completed'
        ? event(HistoryEventType.SubOrchestrationInstanceCompleted, {
            TaskScheduledId: parent.taskId,
            Result: output,
          })
        : event(HistoryEventType.SubOrchestrationInstanceFailed, {
            TaskScheduledId: parent.taskId,
            Reason: String(parseJsonText(output)),
            FailureDetails: {
              ErrorType: 'OrchestrationFailure',
              ErrorMessage: String(parseJsonText(output)),
            },
          });
    this.newWork.push({
      rowKey: workKeys.notifyParent(this.record.executionId),
      item: {
        kind: 'notifyParent',
        parentInstanceId: parent.instanceId,
        messageKey: newMessageKey(),
        message: { type: 'event', executionId: parent.executionId, event: completion },
      },
    });
  }

  continueAsNew(input: string): void {
    this.finished = true;
    this.continuedAsNew = true;
    this.record.input = input;
    this.record.executionId = randomUUID().replace(/-/g, '');
    this.record.historyLength = 0;
    this.record.nextSequence = 0;
    this.record.recordedActions = 0;
    this.record.retries = [];
    this.record.status = 'Running';
    this.record.lastUpdatedTime = new Date().toISOString();
    this.newHistory.length = 0;
    this.newWork.push({ rowKey: newMessageKey(), item: { kind: 'message', message: { type: 'start' } } });
  }

  #nextId(): number {
    const id = this.record.nextSequence;
    this.record.nextSequence += 1;
    return id;
  }

  #addActivity(name: string, input: string): number {
    const taskId = this.#nextId();
    this.append(event(HistoryEventType.TaskScheduled, { Name: name, Input: input }, taskId));
    const { executionId } = this.record;
    this.newWork.push({
      rowKey: workKeys.activity(executionId, taskId),
      item: { kind: 'activity', executionId, taskId, name, input },
    });
    return taskId;
  }

  #addTimer(fireAt: string, canceled = false): number {
    const timerId = this.#nextId();
    this.append(event(HistoryEventType.TimerCreated, { FireAt: fireAt }, timerId));
    const { executionId } = this.record;
    if (!canceled) {
      this.newWork.push({
        rowKey: workKeys.timer(executionId, timerId),
        item: { kind: 'timer', executionId, timerId, fireAt },
      });
    }
    return timerId;
  }

  #addChild(name: string, input: string | undefined, fixedInstanceId: string | undefined): number {
    const taskId = this.#nextId();
    const childInstanceId = fixedInstanceId ?? `${this.record.instanceId}:${taskId}`;
    this.append(
      event(
        HistoryEventType.SubOrchestrationInstanceCreated,
        { Name: name, InstanceId: childInstanceId, Input: input },
        taskId,
      ),
    );
    const { executionId } = this.record;
    this.newWork.push({
      rowKey: workKeys.startChild(executionId, taskId),
      item: { kind: 'startChild', executionId, taskId, childInstanceId, name, input },
    });
    return taskId;
  }
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
