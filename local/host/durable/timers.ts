/**
 * Durable timers: each pending timer row is armed as an in-process timeout; when it is due, the row is swapped
 * for a TimerFired message in one transaction. Rows survive a host stop and are re-armed by the next start, so
 * a timer that fell due while no host ran fires immediately.
 */
import { HistoryEventType } from './protocol';
import { describe } from './runner';
import { isStatus, newMessageKey, type DurableStore, type StoredWork, type WorkItem } from './store';

type TimerWork = StoredWork<Extract<WorkItem, { kind: 'timer' }>>;

/** setTimeout cannot wait longer than this; later timers are re-armed in steps. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export interface TimerSchedulerOptions {
  store: DurableStore;
  log: (level: string, msg: string) => void;
  onFired: (instanceId: string) => void;
}

export class TimerScheduler {
  readonly #opts: TimerSchedulerOptions;
  readonly #armed = new Map<string, NodeJS.Timeout>();
  readonly #firing = new Set<Promise<void>>();
  #stopping = false;

  constructor(opts: TimerSchedulerOptions) {
    this.#opts = opts;
  }

  arm(work: TimerWork): void {
    const key = `${work.instanceId}\u0000${work.rowKey}`;
    if (this.#stopping || this.#armed.has(key)) return;
    const wait = Math.max(0, Date.parse(work.item.fireAt) - Date.now());
    const handle = setTimeout(
      () => {
        this.#armed.delete(key);
        if (wait > MAX_TIMEOUT_MS) {
          this.arm(work);
          return;
        }
        const firing: Promise<void> = this.#fire(work).finally(() => this.#firing.delete(firing));
        this.#firing.add(firing);
      },
      Math.min(wait, MAX_TIMEOUT_MS),
    );
    this.#armed.set(key, handle);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const handle of this.#armed.values()) clearTimeout(handle);
    this.#armed.clear();
    await Promise.all([...this.#firing]);
  }

  /** Storage hiccups must not lose a timer: its row is still there, so try again shortly. */
  #retryLater(work: TimerWork): void {
    if (this.#stopping) return;
    const key = `${work.instanceId}\u0000${work.rowKey}`;
    const handle = setTimeout(() => {
      this.#armed.delete(key);
      this.arm(work);
    }, 1000);
    this.#armed.set(key, handle);
  }

  async #fire(work: TimerWork): Promise<void> {
    const { instanceId, item } = work;
    const fired = {
      EventType: HistoryEventType.TimerFired,
      EventId: -1,
      IsPlayed: false,
      Timestamp: new Date().toISOString(),
      TimerId: item.timerId,
      FireAt: item.fireAt,
    };
    try {
      await this.#opts.store.commit(instanceId, [
        { op: 'delete', rowKey: work.rowKey },
        {
          op: 'putWork',
          rowKey: newMessageKey(),
          item: { kind: 'message', message: { type: 'event', executionId: item.executionId, event: fired } },
        },
      ]);
    } catch (err: unknown) {
      if (isStatus(err, 404)) {
        this.#opts.log(
          'debug',
          `durable: timer ${item.timerId} of ${instanceId} was cancelled by completion`,
        );
        return;
      }
      this.#opts.log(
        'error',
        `durable: could not fire timer ${item.timerId} of ${instanceId}, retrying in 1 s: ${describe(err)}`,
      );
      this.#retryLater(work);
      return;
    }
    this.#opts.onFired(instanceId);
  }
}
