/**
 * Timer triggers: NCRONTAB schedules (`{second} {minute} {hour} {day} {month} {day-of-week}`, via cron-parser)
 * or `hh:mm:ss` intervals, `runOnStartup`, and the schedule monitor: like the host, a schedule with
 * `useMonitor` (default for intervals of a minute or more) keeps its status in
 * `azure-webjobs-hosts/timers/<hostId>/<function>/status`, so an occurrence missed while the host was down fires
 * at start with `isPastDue: true`. Times are UTC unless `WEBSITE_TIME_ZONE` names an IANA zone.
 */
import { BlobServiceClient, RestError, type BlockBlobClient } from '@azure/storage-blob';
import { CronExpressionParser } from 'cron-parser';
import type { RegisteredFunction } from '../registry';
import { bindingOption } from '../settings';
import { errorMessage, type TriggerEnvironment, type TriggerListener } from './trigger';

/** setTimeout cannot wait longer than this. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

export interface Schedule {
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

export function parseSchedule(expression: string, timeZone: string): Schedule {
  const interval = /^(\d+)\.?(\d{2}):(\d{2}):(\d{2})$|^(\d{1,2}):(\d{2}):(\d{2})$/.exec(expression);
  if (interval) {
    const [d, h, m, s] = interval[1] !== undefined ? interval.slice(1, 5) : ['0', ...interval.slice(5, 8)];
    const ms = (((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
    if (ms <= 0) throw new Error(`Timer schedule "${expression}" must be a positive interval`);
    return { next: (after) => new Date(after.getTime() + ms) };
  }
  if (expression.trim().split(/\s+/).length !== 6) {
    throw new Error(`Timer schedule "${expression}" must have 6 fields (NCRONTAB starts with seconds)`);
  }
  CronExpressionParser.parse(expression, { tz: timeZone }); // fail fast on a bad expression
  return {
    next: (after) =>
      CronExpressionParser.parse(expression, { currentDate: after, tz: timeZone }).next().toDate(),
  };
}

interface TimerState {
  fn: RegisteredFunction;
  schedule: Schedule;
  status: BlockBlobClient | undefined;
  timeout: NodeJS.Timeout | undefined;
  /** The occurrence the pending timeout waits for. */
  next: Date;
  last: Date | undefined;
}

export class TimerTriggerListener implements TriggerListener {
  readonly #env: TriggerEnvironment;
  readonly #timers: TimerState[];
  readonly #inFlight = new Set<Promise<void>>();
  /** Injectable clock for tests of the schedule arithmetic. */
  readonly #now: () => Date;
  #stopped = false;

  constructor(env: TriggerEnvironment, now: () => Date = () => new Date()) {
    this.#env = env;
    this.#now = now;
    const timeZone = env.settings.WEBSITE_TIME_ZONE ?? 'UTC';
    const hosts = BlobServiceClient.fromConnectionString(env.storageConnectionString).getContainerClient(
      'azure-webjobs-hosts',
    );
    this.#timers = env.registry.byTriggerType('timerTrigger').map((fn) => {
      const schedule = parseSchedule(
        bindingOption(fn.trigger, 'schedule', `Function "${fn.name}"`, env.settings),
        timeZone,
      );
      const reference = now();
      const next = schedule.next(reference);
      const intervalMs = schedule.next(next).getTime() - next.getTime();
      const monitored = fn.trigger.useMonitor ?? intervalMs >= 60_000;
      const status =
        monitored === true
          ? hosts.getBlockBlobClient(`timers/${env.hostId}/Host.Functions.${fn.name}/status`)
          : undefined;
      return { fn, schedule, status, timeout: undefined, next, last: undefined };
    });
  }

  async start(): Promise<void> {
    this.#stopped = false;
    if (this.#timers.some((t) => t.status)) {
      await BlobServiceClient.fromConnectionString(this.#env.storageConnectionString)
        .getContainerClient('azure-webjobs-hosts')
        .createIfNotExists();
    }
    for (const timer of this.#timers) {
      const stored = timer.status ? await readStatus(timer.status) : undefined;
      const now = this.#now();
      if (stored && new Date(stored.Next) < now) {
        const missed = new Date(stored.Next);
        timer.last = new Date(stored.Last);
        timer.next = missed;
        this.#track(
          this.#fire(timer, true).then(async () => {
            timer.last = missed;
            await this.#saveStatus(timer);
          }),
        );
      } else if (timer.fn.trigger.runOnStartup === true) {
        this.#track(this.#fire(timer, false));
      }
      timer.next = stored && new Date(stored.Next) > now ? new Date(stored.Next) : timer.schedule.next(now);
      await this.#saveStatus(timer);
      this.#arm(timer);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer.timeout);
    await Promise.all([...this.#inFlight]);
  }

  #arm(timer: TimerState): void {
    if (this.#stopped) return;
    const wait = Math.max(0, timer.next.getTime() - this.#now().getTime());
    timer.timeout = setTimeout(
      () => {
        if (this.#now() < timer.next) return this.#arm(timer); // woke early (long waits are chunked)
        const occurrence = timer.next;
        timer.next = timer.schedule.next(occurrence > this.#now() ? occurrence : this.#now());
        this.#track(
          this.#fire(timer, false).then(async () => {
            timer.last = occurrence;
            await this.#saveStatus(timer);
          }),
        );
        this.#arm(timer);
      },
      Math.min(wait, MAX_TIMEOUT_MS),
    );
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.#env.log('error', `Timer bookkeeping failed: ${errorMessage(err)}`);
    });
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }

  async #fire(timer: TimerState, isPastDue: boolean): Promise<void> {
    const now = this.#now();
    // The TimerInfo JSON the host sends; the library camel-cases it into the `Timer` type.
    const timerInfo = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: timer.status
        ? {
            Last: (timer.last ?? new Date(0)).toISOString(),
            Next: timer.next.toISOString(),
            LastUpdated: now.toISOString(),
          }
        : null,
      IsPastDue: isPastDue,
    };
    try {
      await this.#env.registry.invoke(timer.fn.name, { triggerData: { json: JSON.stringify(timerInfo) } });
    } catch (err: unknown) {
      // The host logs a failed timer run and keeps the schedule going; there is no retry.
      this.#env.log('error', `Timer trigger ${timer.fn.name} failed: ${errorMessage(err)}`);
    }
  }

  async #saveStatus(timer: TimerState): Promise<void> {
    if (!timer.status) return;
    const status: ScheduleStatus = {
      Last: (timer.last ?? new Date(0)).toISOString(),
      Next: timer.next.toISOString(),
      LastUpdated: this.#now().toISOString(),
    };
    const body = JSON.stringify(status);
    await timer.status.upload(body, Buffer.byteLength(body));
  }
}

async function readStatus(blob: BlockBlobClient): Promise<ScheduleStatus | undefined> {
  try {
    return JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as ScheduleStatus;
  } catch (err: unknown) {
    if (err instanceof RestError && err.statusCode === 404) return undefined;
    throw err;
  }
}
