/**
 * The durable task engine: owns the store, the episode runner, the activity pool and the timers, routes work
 * between them, and offers the operations behind the client API (start, status, list, raise, terminate, purge).
 */
import { randomUUID } from 'crypto';
import type { FunctionRegistry } from '../registry';
import { ActivityPool } from './activities';
import {
  HistoryEventType,
  TERMINAL_STATUSES,
  type HistoryEvent,
  type OrchestrationStatusBody,
  type RuntimeStatus,
} from './protocol';
import { OrchestrationRunner, describe } from './runner';
import {
  DurableStore,
  newMessageKey,
  type InstanceMessage,
  type InstanceRecord,
  type StoredWork,
  type WorkItem,
} from './store';
import { TimerScheduler } from './timers';

export interface DurableEngineOptions {
  storageConnectionString: string;
  taskHubName: string;
  registry: FunctionRegistry;
  log: (level: string, msg: string) => void;
  /** Activities running at once. */
  activityConcurrency: number;
}

export type ClientOutcome = 'accepted' | 'notFound' | 'gone';

export interface StatusQuery {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

export interface ListFilter {
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: string[];
}

function parseJsonText(text: string | undefined): unknown {
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

function newExecutionId(): string {
  return randomUUID().replace(/-/g, '');
}

export class DurableEngine {
  readonly store: DurableStore;
  readonly #opts: DurableEngineOptions;
  readonly #runner: OrchestrationRunner;
  readonly #activities: ActivityPool;
  readonly #timers: TimerScheduler;
  readonly #forwarding = new Set<Promise<void>>();
  #stopping = false;

  constructor(opts: DurableEngineOptions) {
    this.#opts = opts;
    this.store = new DurableStore(opts.storageConnectionString, opts.taskHubName);
    const { log, registry } = opts;
    this.#runner = new OrchestrationRunner({
      store: this.store,
      registry,
      log,
      onNewWork: (work) => this.#route(work),
    });
    this.#activities = new ActivityPool({
      store: this.store,
      registry,
      log,
      concurrency: opts.activityConcurrency,
      onCompleted: (id) => this.#runner.dispatch(id),
    });
    this.#timers = new TimerScheduler({ store: this.store, log, onFired: (id) => this.#runner.dispatch(id) });
  }

  /** Creates the table and resumes everything the previous host left pending. */
  async start(): Promise<void> {
    await this.store.init();
    const pending = await this.store.listPendingWork();
    this.#route(pending);
    const resumed = new Set(pending.map((w) => w.instanceId));
    if (resumed.size > 0)
      this.#opts.log('information', `durable: resumed pending work of ${resumed.size} instance(s)`);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#timers.stop();
    await this.#activities.stop();
    await Promise.all([...this.#forwarding]);
    await this.#runner.stop();
  }

  #route(work: StoredWork[]): void {
    for (const w of work) {
      switch (w.item.kind) {
        case 'message':
          this.#runner.dispatch(w.instanceId);
          break;
        case 'activity':
          this.#activities.enqueue({ ...w, item: w.item });
          break;
        case 'timer':
          this.#timers.arm({ ...w, item: w.item });
          break;
        case 'startChild':
        case 'notifyParent': {
          if (this.#stopping) break;
          const forwarding: Promise<void> = this.#forward(w.instanceId, w.rowKey, w.item)
            .catch((err: unknown) => {
              this.#opts.log(
                'error',
                `durable: could not forward ${w.rowKey} of ${w.instanceId} (retried on next start): ${describe(err)}`,
              );
            })
            .finally(() => this.#forwarding.delete(forwarding));
          this.#forwarding.add(forwarding);
          break;
        }
      }
    }
  }

  /** Moves a message between instances: a new child's start, or a child's result to its parent. */
  async #forward(instanceId: string, rowKey: string, item: WorkItem): Promise<void> {
    if (item.kind === 'notifyParent') {
      await this.store.commit(item.parentInstanceId, [
        { op: 'putWork', rowKey: item.messageKey, item: { kind: 'message', message: item.message } },
      ]);
      await this.store.commit(instanceId, [{ op: 'delete', rowKey }]);
      this.#runner.dispatch(item.parentInstanceId);
      return;
    }
    if (item.kind !== 'startChild') return;
    const existing = await this.store.getInstance(item.childInstanceId);
    const ours =
      existing?.parent?.instanceId === instanceId &&
      existing.parent.executionId === item.executionId &&
      existing.parent.taskId === item.taskId;
    if (!ours && existing && !TERMINAL_STATUSES.includes(existing.status)) {
      const reason = `An orchestration with instance ID '${item.childInstanceId}' is already running.`;
      const failed: HistoryEvent = {
        EventType: HistoryEventType.SubOrchestrationInstanceFailed,
        EventId: -1,
        IsPlayed: false,
        Timestamp: new Date().toISOString(),
        TaskScheduledId: item.taskId,
        Reason: reason,
        FailureDetails: { ErrorType: 'OrchestrationAlreadyExists', ErrorMessage: reason },
      };
      await this.store.commit(instanceId, [
        {
          op: 'putWork',
          rowKey: newMessageKey(),
          item: { kind: 'message', message: { type: 'event', executionId: item.executionId, event: failed } },
        },
        { op: 'delete', rowKey },
      ]);
      this.#runner.dispatch(instanceId);
      return;
    }
    if (!ours) {
      if (existing) await this.store.purge(item.childInstanceId);
      await this.#create(item.name, item.childInstanceId, item.input, {
        instanceId,
        executionId: item.executionId,
        taskId: item.taskId,
      });
    }
    await this.store.commit(instanceId, [{ op: 'delete', rowKey }]);
    this.#runner.dispatch(item.childInstanceId);
  }

  async #create(
    name: string,
    instanceId: string,
    input: string | undefined,
    parent?: InstanceRecord['parent'],
  ): Promise<void> {
    const now = new Date().toISOString();
    const record: InstanceRecord = {
      instanceId,
      name,
      status: 'Pending',
      input,
      createdTime: now,
      lastUpdatedTime: now,
      executionId: newExecutionId(),
      historyLength: 0,
      nextSequence: 0,
      recordedActions: 0,
      retries: [],
      parent,
    };
    await this.store.commit(instanceId, [
      { op: 'putWork', rowKey: newMessageKey(), item: { kind: 'message', message: { type: 'start' } } },
      { op: 'upsertInstance', record },
    ]);
  }

  hasOrchestrator(name: string): boolean {
    const fn = this.#opts.registry.get(name);
    return fn !== undefined && fn.trigger.type.toLowerCase() === 'orchestrationtrigger';
  }

  /**
   * Schedules a new instance. An id already in use by a running instance is refused (`conflict`); a finished
   * one is replaced, as the Durable extension does by default.
   */
  async startNew(
    name: string,
    instanceId: string | undefined,
    input: string | undefined,
  ): Promise<{ instanceId: string } | 'conflict'> {
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    const existing = await this.store.getInstance(id);
    if (existing && !TERMINAL_STATUSES.includes(existing.status)) return 'conflict';
    if (existing) await this.store.purge(id);
    const fn = this.#opts.registry.get(name);
    await this.#create(fn?.name ?? name, id, input);
    this.#runner.dispatch(id);
    return { instanceId: id };
  }

  async raiseEvent(instanceId: string, eventName: string, input: string | undefined): Promise<ClientOutcome> {
    const raised: HistoryEvent = {
      EventType: HistoryEventType.EventRaised,
      EventId: -1,
      IsPlayed: false,
      Timestamp: new Date().toISOString(),
      Name: eventName,
      Input: input,
    };
    return this.#send(instanceId, { type: 'event', event: raised });
  }

  async terminate(instanceId: string, reason: string): Promise<ClientOutcome> {
    return this.#send(instanceId, { type: 'terminate', reason });
  }

  async #send(instanceId: string, message: InstanceMessage): Promise<ClientOutcome> {
    const record = await this.store.getInstance(instanceId);
    if (!record) return 'notFound';
    if (TERMINAL_STATUSES.includes(record.status)) return 'gone';
    await this.store.commit(instanceId, [
      { op: 'putWork', rowKey: newMessageKey(), item: { kind: 'message', message } },
    ]);
    this.#runner.dispatch(instanceId);
    return 'accepted';
  }

  async getStatus(instanceId: string, query: StatusQuery = {}): Promise<OrchestrationStatusBody | undefined> {
    if (!query.showHistory) {
      const record = await this.store.getInstance(instanceId);
      return record && this.#statusOf(record, query, undefined);
    }
    const partition = await this.store.loadPartition(instanceId);
    return partition.instance && this.#statusOf(partition.instance, query, partition.history);
  }

  async list(filter: ListFilter, query: StatusQuery = {}): Promise<OrchestrationStatusBody[]> {
    const wanted = filter.runtimeStatus?.map((s) => s.toLowerCase());
    const records = (await this.store.listInstances()).filter((r) => {
      const created = Date.parse(r.createdTime);
      if (filter.createdTimeFrom && created < filter.createdTimeFrom.getTime()) return false;
      if (filter.createdTimeTo && created > filter.createdTimeTo.getTime()) return false;
      return !wanted || wanted.includes(r.status.toLowerCase());
    });
    return records.map((r) => this.#statusOf(r, query, undefined));
  }

  async purge(instanceId: string): Promise<number> {
    return (await this.store.purge(instanceId)) ? 1 : 0;
  }

  async purgeBy(filter: ListFilter): Promise<number> {
    const matching = await this.list(filter);
    let deleted = 0;
    for (const status of matching) {
      // Purging running instances would orphan their work; the Durable extension only purges finished ones.
      if (!TERMINAL_STATUSES.includes(status.runtimeStatus)) continue;
      deleted += await this.purge(status.instanceId);
    }
    return deleted;
  }

  #statusOf(
    record: InstanceRecord,
    query: StatusQuery,
    history: HistoryEvent[] | undefined,
  ): OrchestrationStatusBody {
    const body: OrchestrationStatusBody = {
      name: record.name,
      instanceId: record.instanceId,
      runtimeStatus: record.status,
      createdTime: record.createdTime,
      lastUpdatedTime: record.lastUpdatedTime,
      input: query.showInput === false ? null : parseJsonText(record.input),
      output: parseJsonText(record.output),
      customStatus: parseJsonText(record.customStatus),
    };
    if (history) {
      body.history = history
        .filter(
          (e) =>
            e.EventType !== HistoryEventType.OrchestratorStarted &&
            e.EventType !== HistoryEventType.OrchestratorCompleted,
        )
        .map((e) => (query.showHistoryOutput ? e : { ...e, Result: undefined }));
    }
    return body;
  }
}

export type { RuntimeStatus };
