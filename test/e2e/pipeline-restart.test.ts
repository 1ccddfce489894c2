/**
 * @jest-environment ./test/unit/training/onnx-runtime-environment.js
 */
/**
 * The pipeline survives its host: the compiled local function host runs as a child process (as `npm start` runs
 * it) on real emulators. A CSV with bad rows uploaded to `incoming/` is ingested (bad rows quarantined), the new
 * dataset version starts retraining, and while a candidate trains in its worker thread the host still answers
 * /api/health quickly. Once that candidate has uploaded a checkpoint, the host is killed (SIGKILL: no graceful
 * stop) and a new host starts on the same storage: the orchestration resumes, the candidate resumes from its Blob
 * checkpoint, and the pipeline registers a challenger in a shadow experiment. The new host classifies and audits
 * to Cosmos, a re-upload of the same file starts nothing, and its retraining timer (every second here) skips while
 * the pipeline runs and starts one scheduled retraining on the newest dataset version once it has finished.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { startServiceBusPeer, type ServiceBusPeer } from '../../local/servicebus/peer';
import { resetConfigForTests } from '../../shared/config';
import { getExperimentRunner, LIFECYCLE_EVENTS_TOPIC } from '../../shared/lifecycle';
import { uploadModelPackage } from '../../shared/model-package';
import { ensureResources } from '../../shared/platform/bootstrap';
import { resetPlatformClientsForTests } from '../../shared/platform/clients';
import { BLOB_CONTAINERS } from '../../shared/platform/resources';
import { getModelRegistry } from '../../shared/registry/default';
import { buildTinyPackage } from '../support/inference/tiny-package';
import { startTestStack, type TestStack } from '../support/stack';
import { waitFor } from '../support/wait';
import { generateRows, rowsToCsv } from '../unit/training/pipeline/generated-rows';

const ROOT = path.resolve(__dirname, '..', '..');
const HOST_MAIN = path.join(ROOT, 'dist', 'local', 'host', 'main.js');
const KEY = 'restart-key';
const SYSTEM = { kind: 'system', id: 'test' } as const;

interface RunningHost {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly output: () => string;
  readonly exited: Promise<unknown>;
}

async function startHost(env: Record<string, string>): Promise<RunningHost> {
  const child = spawn(process.execPath, [HOST_MAIN, 'test/e2e/pipeline-app.js'], {
    cwd: ROOT,
    env: { ...process.env, ...env, FUNCTIONS_HTTP_PORT: '0', LOCAL_FUNCTION_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise((done) => child.on('exit', done));
  await waitFor(
    'the host to list its functions',
    () => /Functions:/.test(text) || child.exitCode !== null,
    60_000,
  );
  const baseUrl = /listening at (http:\/\/\S+)/.exec(text)?.[1];
  if (baseUrl === undefined) throw new Error(`the host did not start:\n${text}`);
  return { child, baseUrl, output: () => text, exited };
}

async function kill(host: RunningHost | undefined): Promise<void> {
  if (host === undefined || host.child.exitCode !== null || host.child.signalCode !== null) return;
  host.child.kill('SIGKILL');
  await host.exited;
}

describe('retraining pipeline across a host restart (compiled host in a child process)', () => {
  let stack: TestStack;
  let peer: ServiceBusPeer;
  let first: RunningHost | undefined;
  let second: RunningHost | undefined;
  let hostEnv: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(HOST_MAIN)) throw new Error(`${HOST_MAIN} is missing: run \`npm run build\` first`);
    stack = await startTestStack({ cosmosDatabase: 'restarttest' });
    peer = await startServiceBusPeer({
      port: 0,
      entities: { queues: ['feedback'], topics: { [LIFECYCLE_EVENTS_TOPIC]: ['audit'] } },
    });
    process.env.ServiceBus = peer.connectionString;
    await stack.useAsProcessEnv();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    // A weak champion (eight of the sixteen generated codes) for the candidates to be gated against.
    const models = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models);
    await uploadModelPackage(models, 'champ-1/', buildTinyPackage({ modelVersion: 'champ-1' }).files);
    await getModelRegistry().register('champ-1', { actor: SYSTEM, reason: 'seeded' });
    await getModelRegistry().promote('champ-1', { actor: SYSTEM, reason: 'seeded' });
    hostEnv = { ...stack.env, ServiceBus: peer.connectionString, DURABLE_TASK_HUB: 'RestartHub' };
  }, 120_000);

  afterAll(async () => {
    await kill(first);
    await kill(second);
    delete process.env.ServiceBus;
    await stack?.stop();
    resetConfigForTests();
    await resetPlatformClientsForTests();
    await peer?.stop();
  }, 60_000);

  const call = async (host: RunningHost, method: string, route: string, body?: unknown) => {
    const response = await fetch(`${host.baseUrl}/api/${route}`, {
      method,
      headers: { 'x-functions-key': KEY, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
  };
  const blobExists = (container: string, name: string): Promise<boolean> =>
    stack.clients.dataBlobs.getContainerClient(container).getBlobClient(name).exists();
  const readBlob = async (container: string, name: string): Promise<string> =>
    (
      await stack.clients.dataBlobs.getContainerClient(container).getBlobClient(name).downloadToBuffer()
    ).toString();

  it('resumes training from its Blob checkpoint after a host kill, registers a challenger, serves and audits', async () => {
    first = await startHost({ ...hostEnv, RETRAIN_SCHEDULE: 'off' });
    expect(first.output()).not.toContain('retrainSchedule');

    const rows = generateRows(2000, 5);
    const csv = `${rowsToCsv(rows)},610910\nTHING 1,77000000\n`;
    const incoming = stack.clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.incoming);
    await incoming.getBlockBlobClient('restart.csv').uploadData(Buffer.from(csv));

    let version = '';
    await waitFor(
      'the dataset version',
      async () => {
        version = (await call(first!, 'GET', 'datasets')).json?.datasets?.[0]?.version ?? '';
        return version !== '';
      },
      60_000,
    );
    const pipelineId = `retrain-${version}-s1`;
    const checkpoint = `checkpoints/${pipelineId}/textcnn/checkpoint`;
    const result = `checkpoints/${pipelineId}/textcnn/result.json`;

    // While the text-CNN candidate trains in its worker thread, health answers as if nothing ran.
    await waitFor(
      'the text-CNN candidate to train',
      async () => {
        const view = await call(first!, 'GET', `pipelines/${pipelineId}`);
        const progress = (view.json?.progress ?? []) as { candidateId: string; stage: string }[];
        return progress.some((p) => p.candidateId === 'textcnn' && p.stage === 'training');
      },
      60_000,
    );
    const latencies: number[] = [];
    for (let probe = 0; probe < 8; probe++) {
      const started = performance.now();
      const health = await fetch(`${first.baseUrl}/api/health`);
      latencies.push(performance.now() - started);
      expect(health.status).toBe(200);
      await health.arrayBuffer();
    }
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(200);
    expect(latencies.at(-1)).toBeLessThan(1000);

    await waitFor(
      'a text-CNN checkpoint in Blob',
      () => blobExists(BLOB_CONTAINERS.models, checkpoint),
      60_000,
    );
    const killedBeforeResult = !(await blobExists(BLOB_CONTAINERS.models, result));
    await kill(first);
    expect(killedBeforeResult).toBe(true);

    second = await startHost({ ...hostEnv, RETRAIN_SCHEDULE: '*/1 * * * * *' });
    expect(second.output()).toContain('retrainSchedule [timerTrigger]');
    let view: any;
    await waitFor(
      `pipeline ${pipelineId} to finish on the new host`,
      async () => {
        view = (await call(second!, 'GET', `pipelines/${pipelineId}`)).json;
        if (view?.runtimeStatus === 'Failed')
          throw new Error(`pipeline failed: ${JSON.stringify(view.record)}`);
        return view?.runtimeStatus === 'Completed';
      },
      240_000,
    );
    const resumedFrom = /textcnn: resuming from its Blob checkpoint of epoch (\d+)/.exec(second.output());
    expect(resumedFrom).not.toBeNull();
    expect(Number(resumedFrom![1])).toBeGreaterThan(0);
    const textcnn = view.progress.find((p: { candidateId: string }) => p.candidateId === 'textcnn');
    expect(textcnn).toMatchObject({
      resumed: true,
      stage: 'done',
      resumedFromEpoch: Number(resumedFrom![1]),
    });

    const record = view.record;
    expect(record).toMatchObject({
      status: 'completed',
      datasetVersion: version,
      trigger: { source: 'dataset' },
    });
    expect(record.challenger).toBe(record.winner);
    const experiment = await getExperimentRunner().get(record.experimentId);
    expect(experiment?.record).toMatchObject({ status: 'running', challengerVersion: record.winner });
    expect((await getModelRegistry().aliases()).challenger?.modelVersion).toBe(record.winner);

    // While the pipeline ran, the schedule skipped; now it starts one retraining on the newest dataset version.
    expect(second.output()).toContain('scheduled retraining: a pipeline is running; skipped');
    let scheduled: any;
    await waitFor(
      'a scheduled pipeline',
      async () => {
        const list = (await call(second!, 'GET', 'pipelines')).json?.pipelines ?? [];
        scheduled = list.find((p: { trigger: { source: string } }) => p.trigger.source === 'schedule');
        return scheduled !== undefined;
      },
      60_000,
    );
    expect(scheduled).toMatchObject({ datasetVersion: version, status: 'running' });
    expect(second.output().match(/scheduled retraining: \S+ started/g)).toHaveLength(1);

    // Serving on the new host: each prediction's audit record reaches Cosmos.
    const classified = await call(second, 'POST', 'classify', {
      items: [
        { id: 'a', description: 'cotton knitted tshirt crew' },
        { id: 'b', description: 'roasted ground coffee espresso blend' },
      ],
    });
    expect(classified.status).toBe(200);
    const ids = (classified.json.items as { predictionId: string }[]).map((item) => item.predictionId);
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      let audit: { status: number; json: { id: string; modelVersion: string } } | undefined;
      await waitFor(
        `the audit record of ${id}`,
        async () => {
          audit = await call(second!, 'GET', `predictions/${id}`);
          return audit.status === 200;
        },
        30_000,
      );
      expect(audit!.json).toMatchObject({ id, modelVersion: 'champ-1' });
    }

    // The bad rows are quarantined with their row numbers and reasons.
    const dataset = (await call(second, 'GET', `datasets/${version}`)).json;
    const lineage = dataset.lineage[0] as { ingestionId: string };
    const quarantined = (await readBlob('quarantine', `${lineage.ingestionId}/rejected-rows.jsonl`))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { row: number; reason: string });
    expect(quarantined).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ row: rows.length + 1, reason: 'empty-description' }),
        expect.objectContaining({ row: rows.length + 2, reason: 'hs-code-not-in-nomenclature' }),
      ]),
    );

    // The same bytes again: the trigger finds the ingestion and starts nothing; no new dataset, no new pipeline.
    const pipelinesBefore = (await call(second, 'GET', 'pipelines')).json.pipelines.length;
    await incoming.getBlockBlobClient('restart.csv').uploadData(Buffer.from(csv));
    await waitFor('the re-upload to be seen', () => second!.output().includes('already ingested'), 30_000);
    expect((await call(second, 'GET', 'datasets')).json.datasets).toHaveLength(1);
    expect((await call(second, 'GET', 'pipelines')).json.pipelines).toHaveLength(pipelinesBefore);
  }, 420_000);
});
