/**
 * Runs scheduled activities with bounded concurrency, at least once: the work row stays in storage until the
 * result is committed, so an activity interrupted by a host stop runs again on the next start.
 */
import type { FunctionRegistry } from '../registry';
import { HistoryEventType, failureDetailsOf, toJsonText, type HistoryEvent } from './protocol';
import { describe } from './runner';
import { isStatus, newMessageKey, type DurableStore, type StoredWork, type WorkItem } from './store';

/** Tries to record a result before leaving it to the next host start. */
const COMMIT_ATTEMPTS = 4;

type ActivityWork = StoredWork<Extract<WorkItem, { kind: 'activity' }>>;

export interface ActivityPoolOptions {
  store: DurableStore;
  registry: FunctionRegistry;
  log: (level: string, msg: string) => void;
  /** Activities running at once. */
  concurrency: number;
  /** Called once an activity's result is in the instance's inbox. */
  onCompleted: (instanceId: string) => void;
}

export class ActivityPool {
  readonly #opts: ActivityPoolOptions;
  readonly #queue: ActivityWork[] = [];
  /** Work rows queued or running, so that a rescan does not start an activity twice in one host. */
  readonly #known = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  #stopping = false;

  constructor(opts: ActivityPoolOptions) {
    this.#opts = opts;
  }

  enqueue(work: ActivityWork): void {
    const key = `${work.instanceId}\u0000${work.rowKey}`;
    if (this.#stopping || this.#known.has(key)) return;
    this.#known.add(key);
    this.#queue.push(work);
    this.#pump();
  }

  /** Lets running activities finish and record their results; queued ones stay in storage for the next host. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#queue.length = 0;
    await Promise.all([...this.#running]);
  }

  #pump(): void {
    while (!this.#stopping && this.#running.size < this.#opts.concurrency) {
      const work = this.#queue.shift();
      if (!work) return;
      const run: Promise<void> = this.#run(work).finally(() => {
        this.#running.delete(run);
        this.#known.delete(`${work.instanceId}\u0000${work.rowKey}`);
        this.#pump();
      });
      this.#running.add(run);
    }
  }

  async #run(work: ActivityWork): Promise<void> {
    const { item, instanceId } = work;
    const completion = await this.#execute(item);
    const ops = [
      { op: 'delete' as const, rowKey: work.rowKey },
      {
        op: 'putWork' as const,
        rowKey: newMessageKey(),
        item: {
          kind: 'message' as const,
          message: { type: 'event' as const, executionId: item.executionId, event: completion },
        },
      },
    ];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#opts.store.commit(instanceId, ops);
        break;
      } catch (err: unknown) {
        if (isStatus(err, 404)) {
          // The work row is gone: the orchestration finished, was terminated or purged while this ran.
          this.#opts.log(
            'debug',
            `durable: result of ${item.name} for ${instanceId} dropped (instance moved on)`,
          );
          return;
        }
        if (attempt >= COMMIT_ATTEMPTS) {
          // The row stays in storage, so the next host start runs the activity again (at least once).
          this.#opts.log(
            'error',
            `durable: could not record ${item.name} for ${instanceId}: ${describe(err)}`,
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    this.#opts.onCompleted(instanceId);
  }

  async #execute(item: ActivityWork['item']): Promise<HistoryEvent> {
    const base = {
      EventId: -1,
      IsPlayed: false,
      Timestamp: new Date().toISOString(),
      TaskScheduledId: item.taskId,
    };
    const fn = this.#opts.registry.get(item.name);
    if (!fn || fn.trigger.type.toLowerCase() !== 'activitytrigger') {
      const message = `The activity function '${item.name}' does not exist.`;
      return {
        ...base,
        EventType: HistoryEventType.TaskFailed,
        Reason: message,
        FailureDetails: { ErrorType: 'Error', ErrorMessage: message },
      };
    }
    try {
      const result = await this.#opts.registry.invoke(fn.name, { triggerData: { json: item.input } });
      return { ...base, EventType: HistoryEventType.TaskCompleted, Result: toJsonText(result.returnValue) };
    } catch (err: unknown) {
      const details = failureDetailsOf(err);
      this.#opts.log('warning', `durable: activity ${item.name} failed: ${details.ErrorMessage}`);
      return {
        ...base,
        EventType: HistoryEventType.TaskFailed,
        Reason: `Activity function '${item.name}' failed: ${details.ErrorMessage}`,
        Details: details.StackTrace ?? '',
        FailureDetails: details,
      };
    }
  }
}
