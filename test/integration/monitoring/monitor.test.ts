import { ensureResources } from '../../../shared/platform/bootstrap';
import { COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { loadMonitoringConfig } from '../../../shared/config';
import {
  cosmosAlertStore,
  cosmosPredictionSource,
  runMonitoring,
  type RetrainingReason,
} from '../../../shared/monitoring/monitor';
import { buildMonitoringReference } from '../../../shared/monitoring/reference';
import { resolveEncoderConfig } from '../../../shared/text/encoder';
import { createRandom } from '../../../shared/math/random';
import { startTestStack, type TestStack } from '../../support/stack';

jest.setTimeout(180_000);

const WORDS = ['steel', 'bolt', 'cotton', 'shirt', 'rubber', 'tyre', 'plastic', 'bottle'];
const CHAPTERS = ['73', '61', '40', '39'];
const tokenizer = resolveEncoderConfig();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
  await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
});
afterAll(async () => {
  await stack?.stop();
});

/** A prediction record shaped like the audit store's (only the fields monitoring reads matter here). */
function record(id: string, createdAt: Date, drifted: boolean, seed: number) {
  const rng = createRandom(seed);
  const chapter = drifted ? '85' : CHAPTERS[rng.int(CHAPTERS.length)]!;
  return {
    id,
    createdAt: createdAt.toISOString(),
    modelVersion: 'm1',
    normalizedText: drifted ? 'graphene drone' : `${WORDS[rng.int(8)]} ${WORDS[rng.int(8)]}`,
    codes: [
      { code: `${chapter}0000`, description: null, confidence: drifted ? 0.2 : 0.5 + 0.5 * rng.next() },
    ],
    chapter: { code: chapter, description: null, confidence: 0.9 },
    decision: { outcome: 'auto', reason: 'confident', threshold: 0.9, headingThreshold: 0.9 },
    latency: { totalMs: 15, batchSize: 1 },
  };
}

test('no drift: no alert; drift: one alert and one start; drift while running: no second start', async () => {
  const rng = createRandom(1);
  const reference = buildMonitoringReference({
    modelVersion: 'm1',
    trainingTexts: WORDS,
    heldOut: Array.from({ length: 800 }, () => ({
      text: `${WORDS[rng.int(8)]} ${WORDS[rng.int(8)]}`,
      chapter: CHAPTERS[rng.int(CHAPTERS.length)]!,
      topConfidence: 0.5 + 0.5 * rng.next(),
    })),
    chapterCodes: CHAPTERS,
    tokenizer,
  });
  const predictions = stack.clients.database.container(COSMOS_CONTAINERS.predictions.id);
  const alertsContainer = stack.clients.database.container(COSMOS_CONTAINERS.alerts.id);
  const starts: RetrainingReason[] = [];
  let running = false;
  const dependencies = {
    predictions: cosmosPredictionSource(predictions, 100),
    references: { forModel: async (v: string) => (v === 'm1' ? reference : undefined) },
    alerts: cosmosAlertStore(alertsContainer),
    retraining: {
      isRunning: async () => running,
      start: async (reason: RetrainingReason) => {
        starts.push(reason);
        running = true;
        return `retrain-${starts.length}`;
      },
    },
  };
  const config = loadMonitoringConfig({
    MONITOR_NULL_SIMULATIONS: '200',
    MONITOR_MIN_RECORDS: '150',
    MONITOR_WINDOW_MINUTES: '60',
  });
  const insert = async (end: Date, drifted: boolean, prefix: string) => {
    for (let start = 0; start < 250; start += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          predictions.items.create(
            record(
              `${prefix}-${start + j}`,
              new Date(end.getTime() - 1000 * (start + j + 1)),
              drifted,
              start + j,
            ),
          ),
        ),
      );
    }
  };

  const t0 = new Date('2025-03-01T10:00:00Z');
  await insert(t0, false, 'calm');
  const calm = await runMonitoring(t0, config, dependencies);
  expect(calm.models).toEqual([{ modelVersion: 'm1', status: 'ok', predictions: 250 }]);
  expect(await dependencies.alerts.recent(new Date(0), 10)).toHaveLength(0);

  const t1 = new Date('2025-03-01T12:00:00Z');
  await insert(t1, true, 'drift1');
  await runMonitoring(t1, config, dependencies);
  let stored = await dependencies.alerts.recent(new Date(0), 10);
  expect(stored).toHaveLength(1);
  expect(stored[0]!.findings).toEqual(expect.arrayContaining(['chapter-drift', 'oov-drift']));
  expect(stored[0]!.retraining).toMatchObject({ action: 'started', instanceId: 'retrain-1' });
  expect(starts).toHaveLength(1);

  const t2 = new Date('2025-03-01T14:00:00Z');
  await insert(t2, true, 'drift2');
  await runMonitoring(t2, config, dependencies);
  stored = await dependencies.alerts.recent(new Date(0), 10);
  expect(stored).toHaveLength(2);
  expect(stored[0]!.retraining).toEqual({ action: 'already-running' });
  expect(starts).toHaveLength(1);
});
