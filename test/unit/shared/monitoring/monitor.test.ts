import { loadMonitoringConfig } from '../../../../shared/config';
import {
  runMonitoring,
  type AlertStore,
  type MonitoredPrediction,
  type MonitoringAlert,
  type RetrainingReason,
  type RetrainingTrigger,
} from '../../../../shared/monitoring/monitor';
import {
  buildMonitoringReference,
  parseMonitoringReference,
  serializeMonitoringReference,
  type MonitoringReference,
} from '../../../../shared/monitoring/reference';
import { resolveEncoderConfig } from '../../../../shared/text/encoder';
import { createRandom, type Random } from '../../../../shared/math/random';

const WORDS = ['steel', 'bolt', 'cotton', 'shirt', 'rubber', 'tyre', 'plastic', 'bottle', 'copper', 'wire'];
const NEW_WORDS = ['graphene', 'drone', 'lidar', 'vape', 'quantum', 'nanotube'];
const CHAPTERS = ['73', '61', '40', '39', '74'];
const tokenizer = resolveEncoderConfig();

function text(rng: Random, vocabulary: readonly string[]): string {
  return `${vocabulary[rng.int(vocabulary.length)]} ${vocabulary[rng.int(vocabulary.length)]}`;
}

function reference(): MonitoringReference {
  const rng = createRandom(1);
  const heldOut = Array.from({ length: 1000 }, () => ({
    text: text(rng, WORDS),
    chapter: CHAPTERS[rng.int(CHAPTERS.length)]!,
    topConfidence: 0.5 + 0.5 * rng.next(),
  }));
  return buildMonitoringReference({
    modelVersion: 'm1',
    trainingTexts: WORDS,
    heldOut,
    chapterCodes: CHAPTERS,
    tokenizer,
  });
}

function predictions(count: number, drifted: boolean, seed: number, now: Date): MonitoredPrediction[] {
  const rng = createRandom(seed);
  return Array.from({ length: count }, (_, i) => ({
    createdAt: new Date(now.getTime() - 1000 * (i + 1)).toISOString(),
    modelVersion: 'm1',
    chapter: drifted ? '85' : CHAPTERS[rng.int(CHAPTERS.length)]!,
    topConfidence: drifted ? 0.3 * rng.next() : 0.5 + 0.5 * rng.next(),
    outcome: 'auto',
    latencyMs: 20,
    normalizedText: text(rng, drifted ? NEW_WORDS : WORDS),
  }));
}

function fakes(records: () => MonitoredPrediction[]) {
  const alerts: MonitoringAlert[] = [];
  const starts: RetrainingReason[] = [];
  let running = false;
  const store: AlertStore = {
    write: async (alert) => {
      alerts.push(alert);
    },
    recent: async () => [...alerts].reverse(),
    lastRetrainingStartSince: async (since) => {
      const times = alerts
        .flatMap((a) => (a.retraining.action === 'started' ? [a.retraining.startedAt] : []))
        .filter((t) => t >= since.toISOString())
        .sort();
      const last = times.at(-1);
      return last === undefined ? undefined : new Date(last);
    },
  };
  const retraining: RetrainingTrigger = {
    isRunning: async () => running,
    start: async (reason) => {
      starts.push(reason);
      running = true;
      return `run-${starts.length}`;
    },
  };
  const ref = reference();
  return {
    alerts,
    starts,
    setRunning: (value: boolean) => (running = value),
    dependencies: {
      predictions: {
        scan: async (start: Date, end: Date, visit: (p: MonitoredPrediction) => Promise<void>) => {
          const inWindow = records().filter(
            (p) => p.createdAt >= start.toISOString() && p.createdAt < end.toISOString(),
          );
          for (const p of inWindow) await visit(p);
          return inWindow.length;
        },
      },
      references: { forModel: async (version: string) => (version === 'm1' ? ref : undefined) },
      alerts: store,
      retraining,
    },
  };
}

const config = loadMonitoringConfig({ MONITOR_NULL_SIMULATIONS: '200', MONITOR_MIN_RECORDS: '100' });

test('the reference survives serialisation and flags unseen words as OOV', () => {
  const ref = reference();
  const copy = parseMonitoringReference(serializeMonitoringReference(ref), 'memory');
  expect(copy).toEqual(ref);
  expect(ref.oov.heldOut.events).toBe(0);
  expect(ref.chapters.codes.at(-1)).toBe('other');
  expect(() => parseMonitoringReference(Buffer.from('{"formatVersion":1}'), 'bad')).toThrow(/chapters/);
});

test('no drift: no alert; drift: one alert and one start; drift while running: alert, no second start', async () => {
  const now = new Date('2025-01-01T12:00:00Z');
  let records = predictions(400, false, 2, now);
  const world = fakes(() => records);
  const calm = await runMonitoring(now, config, world.dependencies);
  expect(calm.models).toEqual([{ modelVersion: 'm1', status: 'ok', predictions: 400 }]);
  expect(world.alerts).toHaveLength(0);

  const later = new Date(now.getTime() + 3_600_000);
  records = predictions(400, true, 3, later);
  await runMonitoring(later, config, world.dependencies);
  expect(world.alerts).toHaveLength(1);
  expect(world.alerts[0]!.findings).toEqual(['chapter-drift', 'confidence-drift', 'oov-drift']);
  expect(world.alerts[0]!.retraining).toMatchObject({ action: 'started', instanceId: 'run-1' });
  expect(world.starts).toHaveLength(1);

  const evenLater = new Date(later.getTime() + 900_000);
  records = predictions(400, true, 4, evenLater);
  await runMonitoring(evenLater, config, world.dependencies);
  expect(world.alerts).toHaveLength(2);
  expect(world.alerts[1]!.retraining).toEqual({ action: 'already-running' });
  expect(world.starts).toHaveLength(1);

  // Finished, but within the cool-down: still no second start.
  world.setRunning(false);
  const afterRun = new Date(evenLater.getTime() + 900_000);
  records = predictions(400, true, 5, afterRun);
  await runMonitoring(afterRun, config, world.dependencies);
  expect(world.alerts[2]!.retraining.action).toBe('cooling-down');
  expect(world.starts).toHaveLength(1);
});

test('too few predictions or no reference: reported, not tested', async () => {
  const now = new Date('2025-01-01T12:00:00Z');
  const records = [
    ...predictions(50, true, 6, now),
    ...predictions(300, true, 7, now).map((p) => ({ ...p, modelVersion: 'unknown' })),
  ];
  const world = fakes(() => records);
  const result = await runMonitoring(now, config, world.dependencies);
  expect(result.models).toEqual([
    { modelVersion: 'm1', status: 'insufficient-data', predictions: 50 },
    { modelVersion: 'unknown', status: 'no-reference', predictions: 300 },
  ]);
  expect(world.alerts).toHaveLength(0);
});

test('config: defaults and every bad setting named', () => {
  const defaults = loadMonitoringConfig({});
  expect(defaults.schedule).toBe('0 */15 * * * *');
  expect(defaults.windowMinutes).toBe(60);
  expect(() =>
    loadMonitoringConfig({
      MONITOR_FALSE_ALARM_RATE: '2',
      MONITOR_WINDOW_MINUTES: 'x',
      MONITOR_SCHEDULE: 'bad',
    }),
  ).toThrow(/MONITOR_SCHEDULE[\s\S]*MONITOR_WINDOW_MINUTES[\s\S]*MONITOR_FALSE_ALARM_RATE/);
});
