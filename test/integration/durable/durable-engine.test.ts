/**
 * The local durable engine end to end: a real Azurite, the local function host with the DurableExtension, the
 * fixture app's real `durable-functions` orchestrations, driven through the SDK's own DurableClient (which
 * speaks the extension's HTTP API) and through the app's HTTP starter.
 */
import * as path from 'path';
import { OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import { LocalFunctionHost } from '../../../local/host/host';
import { DurableExtension } from '../../../local/host/durable/extension';
import { clientBindingData } from '../../../local/host/durable/http-api';
import { HistoryEventType } from '../../../local/host/durable/protocol';
import { startAzurite, type RunningAzurite } from '../../support/azurite';

jest.mock('@azure/functions-core', (): unknown => jest.requireActual('../../../local/host/core'), {
  virtual: true,
});

// The SDK does not export its client class: apps get one from df.getClient; tests build it from binding data.
const { DurableClient: DurableClientClass } = jest.requireActual<{
  DurableClient: new (clientData: unknown) => DurableClient;
}>('durable-functions/lib/src/durableClient/DurableClient');

const appRoot = path.join(__dirname, '../../..');
const entry = 'test/fixtures/apps/durable-app.js';

interface Probe {
  attempts: Record<string, number[]>;
  started: number[];
  finished: number[];
}
const probe = (): Probe => (globalThis as any).__durableFixtureProbe as Probe;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startHost(azurite: RunningAzurite, hub: string, activityConcurrency = 4, logs: string[] = []) {
  const extension = new DurableExtension({ taskHubName: hub, activityConcurrency });
  const host = new LocalFunctionHost({
    appRoot,
    entry,
    port: 0,
    settings: {},
    storageConnectionString: azurite.connectionString,
    extensions: [extension],
    log: (level, msg) => logs.push(`${level} ${msg}`),
  });
  await host.start();
  const client = new DurableClientClass(clientBindingData(host.baseUrl, hub));
  return { host, extension, client };
}

async function waitUntil<T>(
  what: string,
  read: () => Promise<T>,
  done: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

const finished = (s: { runtimeStatus: string }): boolean =>
  ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus);

describe('local durable engine', () => {
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzurite();
  }, 60_000);
  afterAll(async () => {
    await azurite?.stop();
  });

  describe('on one host', () => {
    let running: Awaited<ReturnType<typeof startHost>>;
    const logs: string[] = [];
    beforeAll(async () => {
      running = await startHost(azurite, 'MainHub', 4, logs);
    }, 30_000);
    afterAll(async () => {
      await running?.host.stop();
    });

    it('runs two activities, a durable timer and an external event raised early, started over HTTP', async () => {
      const { host, client } = running;
      const started = await fetch(`${host.baseUrl}/api/orchestrators/HelloSequence`, {
        method: 'POST',
        body: JSON.stringify({ name: 'Ada', delayMs: 700 }),
      });
      expect(started.status).toBe(202);
      const links = (await started.json()) as { id: string; statusQueryGetUri: string };
      expect(links.statusQueryGetUri.startsWith(host.baseUrl)).toBe(true);
      expect(started.headers.get('location')).toBe(links.statusQueryGetUri);

      const atTimer = await waitUntil(
        'the timer stage',
        () => client.getStatus(links.id),
        (s) => (s.customStatus as { stage?: string } | null)?.stage === 'timer',
      );
      expect(atTimer.runtimeStatus).toBe('Running');
      // Raised before the orchestrator waits for it: the SDK must buffer it until it does.
      await client.raiseEvent(links.id, 'Approval', { by: 'Grace', ok: true });

      const done = await waitUntil('completion', () => client.getStatus(links.id), finished);
      expect(done.runtimeStatus).toBe('Completed');
      const output = done.output as { first: string; second: string; approved: boolean; timerDue: string };
      expect(output).toMatchObject({ first: 'Hello, Ada', second: 'Hello, Grace', approved: true });
      expect(done.customStatus).toEqual({ stage: 'done' });
      expect(done.input).toEqual({ name: 'Ada', delayMs: 700 });

      // The timer fired no earlier than it was due.
      const withHistory = await client.getStatus(links.id, { showHistory: true, showHistoryOutput: true });
      const history = withHistory.history as { EventType: number; Timestamp: string; FireAt?: string }[];
      const fired = history.find((e) => e.EventType === HistoryEventType.TimerFired)!;
      expect(Date.parse(fired.Timestamp)).toBeGreaterThanOrEqual(Date.parse(output.timerDue));
      expect(history.filter((e) => e.EventType === HistoryEventType.TaskScheduled)).toHaveLength(2);
      expect(history.filter((e) => e.EventType === HistoryEventType.EventRaised)).toHaveLength(1);

      // The check-status URL the starter returned works as is.
      const byLink = await fetch(links.statusQueryGetUri);
      expect(byLink.status).toBe(200);
      expect(((await byLink.json()) as { runtimeStatus: string }).runtimeStatus).toBe('Completed');
    });

    it('fans out and in with activities completing in reverse order', async () => {
      const { client } = running;
      probe().finished.length = 0;
      const id = await client.startNew('FanOutFanIn', { input: 8 });
      const done = await waitUntil('fan-in', () => client.getStatus(id), finished);
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output).toEqual({ results: [0, 2, 4, 6, 8, 10, 12, 14], sum: 56 });
      const order = probe().finished;
      expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(order).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('schedules a fan-out larger than one storage transaction (60 activities)', async () => {
      const { client } = running;
      const id = await client.startNew('FanOutFanIn', { input: 60 });
      const done = await waitUntil('fan-in of 60', () => client.getStatus(id), finished, 40_000);
      expect(done.output).toEqual({ results: Array.from({ length: 60 }, (_, i) => 2 * i), sum: 3540 });
    }, 60_000);

    it('lets an external event win a Task.any race against a long timer', async () => {
      const { client } = running;
      const id = await client.startNew('RaceEventAgainstTimer');
      await waitUntil(
        'running',
        () => client.getStatus(id),
        (s) => s.runtimeStatus === OrchestrationRuntimeStatus.Running,
      );
      await client.raiseEvent(id, 'Go', { v: 1 });
      const done = await waitUntil('the race', () => client.getStatus(id), finished);
      expect(done.output).toEqual({ winner: 'event', value: { v: 1 } });
    });

    it('retries an activity with backoff until it succeeds, next to a plain activity', async () => {
      const { client } = running;
      const id = await client.startNew('RetryFlow', { input: { key: 'r1', failTimes: 2, maxAttempts: 4 } });
      const done = await waitUntil('retries', () => client.getStatus(id), finished);
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output).toEqual({ result: 'r1 succeeded on attempt 3', plain: 'Hello, r1' });
      const [a1, a2, a3] = probe().attempts.r1!;
      // First interval 150 ms, backoff coefficient 2: then 300 ms.
      expect(a2! - a1!).toBeGreaterThanOrEqual(140);
      expect(a3! - a2!).toBeGreaterThanOrEqual(290);
    });

    it('fails the orchestration once the retry attempts are used up', async () => {
      const { client } = running;
      const id = await client.startNew('RetryFlow', { input: { key: 'r2', failTimes: 10, maxAttempts: 3 } });
      const done = await waitUntil('retry exhaustion', () => client.getStatus(id), finished);
      expect(done.runtimeStatus).toBe('Failed');
      expect(String(done.output)).toContain('flaky failure 3 of r2');
      expect(probe().attempts.r2).toHaveLength(3);
    });

    it('surfaces an activity failure as a Failed orchestration with the error message', async () => {
      const { client } = running;
      const id = await client.startNew('FailingFlow');
      const done = await waitUntil('failure', () => client.getStatus(id), finished);
      expect(done.runtimeStatus).toBe('Failed');
      expect(String(done.output)).toContain('kaboom: the activity failed');
      const byHttp = await fetch(`${running.host.baseUrl}/runtime/webhooks/durabletask/instances/${id}`);
      expect(byHttp.status).toBe(400);
    });

    it('shows custom status while waiting, and terminates on request', async () => {
      const { client } = running;
      const id = await client.startNew('WaitForever');
      const waiting = await waitUntil(
        'custom status',
        () => client.getStatus(id),
        (s) => s.customStatus !== null && s.customStatus !== undefined,
      );
      expect(waiting.runtimeStatus).toBe('Running');
      expect(waiting.customStatus).toBe('waiting for a signal that never comes');
      await client.terminate(id, 'operator said stop');
      const done = await waitUntil('termination', () => client.getStatus(id), finished);
      expect(done.runtimeStatus).toBe('Terminated');
      expect(done.output).toBe('operator said stop');
      // Both are answered 410 Gone now, which the client accepts.
      await client.terminate(id, 'again');
      await client.raiseEvent(id, 'Never', 1);
      await expect(client.raiseEvent('no-such-instance', 'Never', 1)).rejects.toThrow(/No instance/);
    });

    it('runs sub-orchestrations and continueAsNew', async () => {
      const { client } = running;
      const parent = await client.startNew('ParentFlow', { input: ['x', 'y'], instanceId: 'parent-1' });
      const countdown = await client.startNew('Countdown', { input: { n: 3, seen: [] } });
      const parentDone = await waitUntil('parent', () => client.getStatus(parent), finished);
      expect(parentDone.output).toEqual(['Hello, x (child of parent-1)', 'Hello, y (child of parent-1)']);
      const child = await client.getStatus('parent-1:0');
      expect(child.runtimeStatus).toBe('Completed');
      const countdownDone = await waitUntil('countdown', () => client.getStatus(countdown), finished);
      expect(countdownDone.output).toEqual(['Hello, round 3', 'Hello, round 2', 'Hello, round 1']);
    });

    it('lists by status and purges', async () => {
      const { client } = running;
      const id = await client.startNew('FanOutFanIn', { input: 1 });
      await waitUntil('done', () => client.getStatus(id), finished);
      const completed = await client.getStatusBy({ runtimeStatus: [OrchestrationRuntimeStatus.Completed] });
      expect(completed.map((s) => s.instanceId)).toContain(id);
      expect(completed.every((s) => s.runtimeStatus === OrchestrationRuntimeStatus.Completed)).toBe(true);
      const purged = await client.purgeInstanceHistory(id);
      expect(purged.instancesDeleted).toBe(1);
      await expect(client.getStatus(id)).rejects.toThrow(/404/);
    });

    it('rejects an unknown orchestrator and an id that is still running', async () => {
      const { client } = running;
      await expect(client.startNew('NoSuchOrchestrator')).rejects.toThrow(/400/);
      await client.startNew('WaitForever', { instanceId: 'busy-1' });
      await expect(client.startNew('WaitForever', { instanceId: 'busy-1' })).rejects.toThrow(/409/);
      await client.terminate('busy-1', 'cleanup');
      expect(logs.filter((l) => l.startsWith('error'))).toEqual([]);
    });
  });

  it('resumes pending activities and a pending timer on a new host after restarts', async () => {
    const hub = 'RestartHub';
    probe().started.length = 0;
    let running = await startHost(azurite, hub, 1);
    const id = await running.client.startNew('RestartFlow', { input: { ms: 400, delayMs: 1500 } });
    await waitUntil(
      'the first activity',
      async () => probe().started.length,
      (n) => n >= 1,
    );
    await running.host.stop();
    // The running activity finished during stop; the two queued ones never started on this host.
    expect(probe().started).toEqual([1]);

    running = await startHost(azurite, hub, 1);
    const timerPending = (s: { history?: unknown }): boolean => {
      const types = (s.history as { EventType: number }[]).map((e) => e.EventType);
      return types.includes(HistoryEventType.TimerCreated) && !types.includes(HistoryEventType.TimerFired);
    };
    const atTimer = await waitUntil(
      'the timer',
      () => running.client.getStatus(id, { showHistory: true }),
      timerPending,
    );
    expect(atTimer.runtimeStatus).toBe('Running');
    await running.host.stop();

    running = await startHost(azurite, hub, 1);
    try {
      const done = await waitUntil(
        'completion after restarts',
        () => running.client.getStatus(id, { showHistory: true }),
        finished,
      );
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output).toEqual({ ids: [1, 2, 3], after: 'Hello, after restart' });
      expect([...probe().started].sort()).toEqual([1, 2, 3]);
      const history = done.history as { EventType: number; Timestamp: string; FireAt?: string }[];
      const created = history.find((e) => e.EventType === HistoryEventType.TimerCreated)!;
      const fired = history.filter((e) => e.EventType === HistoryEventType.TimerFired);
      expect(fired).toHaveLength(1);
      expect(Date.parse(fired[0]!.Timestamp)).toBeGreaterThanOrEqual(Date.parse(created.FireAt!));
      // Each activity's result was recorded once, even though the hosts changed under them.
      expect(history.filter((e) => e.EventType === HistoryEventType.TaskCompleted)).toHaveLength(4);
    } finally {
      await running.host.stop();
    }
  }, 60_000);
});
