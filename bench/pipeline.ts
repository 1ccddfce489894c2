/**
 * Wall time of the whole pipeline on this machine: a CSV upload to `incoming/` → ingestion → dataset version →
 * retraining (default settings of functions/retrain.ts) → gate → registration. Runs its own emulators (fresh,
 * in a temporary folder), the Service Bus peer and the local function host with every function of the app.
 *
 *   npm run bench:pipeline -- FILE.csv
 *
 * Prints the time to the dataset version, then the pipeline's seconds per stage, each candidate's metrics, and
 * the total. With an empty registry the winner becomes the first champion (there is nothing to gate against).
 * Once a second while a candidate trains, it times `GET /api/health` on the same host: training runs in worker
 * threads, so these answers show what the instance's other requests see meanwhile.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DurableExtension } from '../local/host/durable/extension';
import { LocalFunctionHost } from '../local/host/host';
import { startServiceBusPeer } from '../local/servicebus/peer';
import { startLocalStack } from '../local/services/stack';
import { loadConfig } from '../shared/config';
import { ensureResources } from '../shared/platform/bootstrap';
import { createPlatformClients } from '../shared/platform/clients';
import { BLOB_CONTAINERS, SERVICE_BUS_ENTITIES } from '../shared/platform/resources';
import type { PipelineRecord } from '../shared/pipelines/records';
import { percentile } from './percentile';

const APP_ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: npm run bench:pipeline -- FILE.csv');
  const bytes = readFileSync(file);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hs-bench-pipeline-'));
  const stack = await startLocalStack({ dataDir });
  const peer = await startServiceBusPeer({
    port: 0,
    entities: {
      queues: [SERVICE_BUS_ENTITIES.feedbackQueue],
      topics: { [SERVICE_BUS_ENTITIES.lifecycleTopic]: [SERVICE_BUS_ENTITIES.lifecycleSubscription] },
    },
  });
  for (const [name, value] of Object.entries(stack.env)) process.env[name] = value;
  process.env.ServiceBus = peer.connectionString;
  const config = loadConfig(process.env);
  const clients = createPlatformClients(config);
  const host = new LocalFunctionHost({
    appRoot: APP_ROOT,
    port: 0,
    functionKey: 'bench',
    storageConnectionString: stack.env.AzureWebJobsStorage,
    extensions: [new DurableExtension({ taskHubName: 'BenchPipeline' })],
    blob: { pollIntervalMs: 200 },
    log: (level, message) => {
      if (level === 'error' || level === 'warning') console.error(`${level} ${message}`);
    },
  });
  const get = async (route: string): Promise<unknown> => {
    const response = await fetch(`${host.baseUrl}/api/${route}`, { headers: { 'x-functions-key': 'bench' } });
    if (!response.ok) throw new Error(`GET ${route}: HTTP ${response.status}`);
    return response.json();
  };
  try {
    await ensureResources({ blobs: clients.dataBlobs, database: clients.database });
    await host.start();
    const uploadedAt = Date.now();
    await clients.dataBlobs
      .getContainerClient(BLOB_CONTAINERS.incoming)
      .getBlockBlobClient(path.basename(file))
      .uploadData(bytes);
    console.log(`uploaded ${path.basename(file)} (${bytes.length} bytes)`);
    let record: PipelineRecord | undefined;
    let lastLine = '';
    const healthMs: number[] = [];
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const list = (await get('pipelines')) as { pipelines: PipelineRecord[] };
      const id = list.pipelines[0]?.id;
      if (id === undefined) continue;
      const view = (await get(`pipelines/${id}`)) as {
        runtimeStatus: string | null;
        record: PipelineRecord | null;
        progress: { candidateId: string; stage: string; epoch: number; epochs: number }[];
      };
      const line = view.progress.map((p) => `${p.candidateId} ${p.stage} ${p.epoch}/${p.epochs}`).join(', ');
      if (view.progress.some((p) => p.stage === 'training')) {
        const started = performance.now();
        const health = await fetch(`${host.baseUrl}/api/health`);
        await health.arrayBuffer();
        healthMs.push(performance.now() - started);
      }
      if (line !== lastLine) {
        console.log(`[${((Date.now() - uploadedAt) / 1000).toFixed(1)}s] ${line}`);
        lastLine = line;
      }
      if (view.runtimeStatus === 'Failed') throw new Error(`pipeline failed: ${view.record?.error ?? ''}`);
      if (view.runtimeStatus === 'Completed' && view.record) {
        record = view.record;
        break;
      }
    }
    const total = (Date.now() - uploadedAt) / 1000;
    const toDataset = (Date.parse(record.startedAt) - uploadedAt) / 1000;
    console.log(`\nupload → dataset version ${record.datasetVersion} (ingestion): ${toDataset.toFixed(1)} s`);
    for (const [stage, seconds] of Object.entries(record.stageSeconds)) {
      console.log(`  ${stage.padEnd(12)} ${seconds.toFixed(1)} s`);
    }
    for (const c of record.candidates) {
      const m = c.metrics;
      console.log(
        `  candidate ${c.candidateId.padEnd(14)} test acc@1 ${m['test.accuracyAt1']?.toFixed(4)} ` +
          `acc@5 ${m['test.accuracyAt5']?.toFixed(4)} coverage@98 ${m['test.coverageAtTarget']?.toFixed(4)}`,
      );
    }
    if (healthMs.length > 0) {
      const sorted = [...healthMs].sort((a, b) => a - b);
      const at = (q: number): string => percentile(sorted, q * 100).toFixed(0);
      console.log(
        `  /api/health during training: ${sorted.length} probes, p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms`,
      );
    }
    console.log(
      `winner ${record.winner} (${record.challenger === null ? 'champion: the registry was empty' : 'challenger'}), ` +
        `gate ${record.gate?.passed ? 'passed' : 'failed'}; total ${total.toFixed(1)} s`,
    );
  } finally {
    await host.stop();
    await clients.dispose();
    await peer.stop();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
