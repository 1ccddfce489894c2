/**
 * Ingestion end to end: real emulators (Azurite + Cosmos), the local function host with the durable extension,
 * and the compiled app's ingestion and dataset functions. Uploads go to `incoming/`, as in production.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { LocalFunctionHost } from '../../../local/host/host';
import { DurableExtension } from '../../../local/host/durable/extension';
import { ensureResources } from '../../../shared/platform/bootstrap';
import { startTestStack, type TestStack } from '../../support/stack';
import { sleep, waitFor } from '../../support/wait';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const root = path.join(__dirname, '../../..');
/** The test runs the compiled app, as the host does in Azure; `npm test` builds it before jest runs. */
function ensureBuilt(): void {
  const built = path.join(root, 'dist/functions/ingest.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
}

const CODES = [
  '8471300000',
  '6403990000',
  '3924100000',
  '0101210000',
  '8504400000',
  '6203420000',
  '9405400000',
];

/** A seeded CSV of `good` distinct rows with bad rows mixed in; returns the text and the bad rows' numbers. */
function generatedCsv(good: number): { text: string; bad: Map<number, string> } {
  const lines = ['description,hs_code,origin'];
  const bad = new Map<number, string>();
  let row = 0;
  for (let i = 0; i < good; i++) {
    lines.push(`PRODUCT ${i} MODEL ${(i * 7919) % 10007},${CODES[i % CODES.length]},CN`);
    row++;
    if (i % 97 === 13) {
      lines.push(`,${CODES[0]},DE`);
      bad.set(++row, 'empty-description');
    } else if (i % 89 === 5) {
      lines.push(`THING ${i},77000000,FR`);
      bad.set(++row, 'hs-code-not-in-nomenclature');
    } else if (i % 83 === 7) {
      lines.push(`product ${i}   model ${(i * 7919) % 10007},${CODES[i % CODES.length]},CN`);
      bad.set(++row, 'duplicate');
    } else if (i % 211 === 3) {
      lines.push(`"broken"${i},${CODES[1]},US`);
      bad.set(++row, 'text-after-closing-quote');
    }
  }
  return { text: `${lines.join('\n')}\n`, bad };
}

describe('ingestion through the local host', () => {
  let stack: TestStack;
  let host: LocalFunctionHost;
  let extension: DurableExtension;
  const logs: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    stack = await startTestStack({ cosmosDatabase: 'ingesttest' });
    await stack.useAsProcessEnv();
    await ensureResources({ blobs: stack.clients.dataBlobs, database: stack.clients.database });
    extension = new DurableExtension({ taskHubName: 'IngestHub' });
    host = new LocalFunctionHost({
      appRoot: root,
      entry: 'test/integration/ingest/app.js',
      port: 0,
      functionKey: 'test-key',
      settings: { ...stack.env },
      storageConnectionString: stack.env.AzureWebJobsStorage,
      extensions: [extension],
      blob: { pollIntervalMs: 200 },
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    await host.start();
  }, 180_000);

  afterAll(async () => {
    await host?.stop();
    await stack?.stop();
  });

  const incoming = () => stack.clients.dataBlobs.getContainerClient('incoming');
  const readBlob = async (container: string, name: string): Promise<string> =>
    (
      await stack.clients.dataBlobs.getContainerClient(container).getBlobClient(name).downloadToBuffer()
    ).toString('utf8');
  const instances = async () => extension.engine.store.listInstances();
  const api = async (route: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${host.baseUrl}/api/${route}`, {
      headers: { 'x-functions-key': host.functionKey },
    });
    return { status: response.status, body: await response.json() };
  };
  async function ingested(blobName: string): Promise<{ instanceId: string; output: any }> {
    let found: { instanceId: string; output: any } | undefined;
    await waitFor(
      `ingestion of ${blobName}`,
      async () => {
        for (const instance of await instances()) {
          if (
            instance.input?.includes(JSON.stringify(blobName)) &&
            ['Completed', 'Failed'].includes(instance.status)
          ) {
            found = {
              instanceId: instance.instanceId,
              output: instance.output === undefined ? undefined : JSON.parse(instance.output),
            };
          }
        }
        return found !== undefined;
      },
      90_000,
    );
    return found!;
  }

  it('ingests a generated CSV with bad rows into a dataset version, quarantine file and report; a re-upload starts nothing', async () => {
    const { text, bad } = generatedCsv(3000);
    await incoming().getBlockBlobClient('declarations.csv').upload(text, Buffer.byteLength(text));
    const { instanceId, output } = await ingested('declarations.csv');
    expect(output).toMatchObject({ outcome: 'dataset', ingestionId: instanceId });
    const version: string = output.datasetVersion;

    const report = JSON.parse(await readBlob('reports', `ingestion/${instanceId}.json`));
    expect(report).toMatchObject({
      received: 3000 + bad.size,
      accepted: 3000,
      rejected: bad.size,
      datasetVersion: version,
    });
    expect(report.accepted + report.rejected).toBe(report.received);

    const quarantined = (await readBlob('quarantine', `${instanceId}/rejected-rows.jsonl`))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { row: number; reason: string; line: number });
    expect(quarantined.map((r) => [r.row, r.reason])).toEqual([...bad.entries()]);
    expect(quarantined.every((r) => r.line === r.row + 1)).toBe(true);

    const rows = await readBlob('datasets', `${version}/rows.csv`);
    expect(rows.trim().split('\n')).toHaveLength(3001);
    const manifest = JSON.parse(await readBlob('datasets', `${version}/manifest.json`));
    expect(manifest).toMatchObject({ version, rows: 3000 });

    const record = await api(`datasets/${version}`);
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({ version, rows: 3000, classCount: CODES.length });
    expect(
      Object.values(record.body.classDistribution as Record<string, number>).reduce((a, b) => a + b, 0),
    ).toBe(3000);
    expect(record.body.lineage).toEqual([
      expect.objectContaining({ ingestionId: instanceId, blobName: 'declarations.csv' }),
    ]);
    const list = await api('datasets');
    expect(list.body.datasets.map((d: { version: string }) => d.version)).toContain(version);
    expect((await api('datasets/ds-00000000000000000000')).status).toBe(404);
    expect((await api('datasets/nope')).status).toBe(400);

    // The same bytes again: a new blob version fires the trigger, which finds the instance and starts nothing.
    const before = (await instances()).length;
    await incoming().getBlockBlobClient('declarations.csv').upload(text, Buffer.byteLength(text));
    await waitFor(
      'the re-upload to be seen',
      () => logs.some((line) => line.includes('already ingested')),
      30_000,
    );
    await sleep(500);
    expect((await instances()).length).toBe(before);
  }, 180_000);

  it('ingests JSON Lines', async () => {
    const lines = [
      { description: 'LAPTOP COMPUTER 14 INCH', hs_code: '8471300000', date: '2024-05-01' },
      { description: 'LEATHER SHOES', hs_code: '6403990000' },
      { description: 'laptop computer 14 inch', hs_code: '8471300000' },
    ];
    const text = `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{not json\n`;
    await incoming().getBlockBlobClient('lines.jsonl').upload(text, Buffer.byteLength(text));
    const { instanceId, output } = await ingested('lines.jsonl');
    expect(output.outcome).toBe('dataset');
    const report = JSON.parse(await readBlob('reports', `ingestion/${instanceId}.json`));
    expect(report).toMatchObject({
      format: 'jsonl',
      received: 4,
      accepted: 2,
      rejected: 2,
      rejectedByReason: { duplicate: 1, 'invalid-json': 1 },
    });
  }, 120_000);

  it('moves an unparseable file to quarantine whole, with the reason', async () => {
    const bytes = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe]);
    await incoming().getBlockBlobClient('archive.csv').upload(bytes, bytes.length);
    const { instanceId, output } = await ingested('archive.csv');
    expect(output.outcome).toBe('file-quarantined');
    const moved = await stack.clients.dataBlobs
      .getContainerClient('quarantine')
      .getBlobClient(`${instanceId}/archive.csv`)
      .downloadToBuffer();
    expect(moved.equals(bytes)).toBe(true);
    const reason = JSON.parse(await readBlob('quarantine', `${instanceId}/reason.json`));
    expect(reason.reason).toMatch(/not UTF-8/);
    expect(await incoming().getBlobClient('archive.csv').exists()).toBe(false);
    const report = JSON.parse(await readBlob('reports', `ingestion/${instanceId}.json`));
    expect(report).toMatchObject({ outcome: 'file-quarantined', fileRejectionReason: reason.reason });
  }, 120_000);
});
