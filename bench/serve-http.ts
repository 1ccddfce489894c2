/**
 * Over-HTTP serving benchmark through the local function host, with Azurite and the Cosmos emulator (audit
 * records are really written): cold start (first request, model load included), a fixed rate (default 200/s for
 * 60 s) and an unthrottled run for the maximum sustainable rate, with RSS sampled every second to show whether
 * memory stays flat. The load generator (autocannon) runs as a separate process so it does not share the
 * server's event loop.
 *
 *   node -r ./bench/swc-register.js bench/serve-http.ts [RATE=200] [SECONDS=60] [PACKAGE_FOLDER]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCore } from '../local/host/install-core';
import { loadApp } from '../local/host/app-loader';
import { HttpTriggerServer } from '../local/host/http';
import { FunctionRegistry } from '../local/host/registry';
import { startLocalStack } from '../local/services/stack';
import { uploadModelPackage } from '../shared/model-package/package';
import { ensureResources } from '../shared/platform/bootstrap';
import { getPlatformClients } from '../shared/platform/clients';
import { BLOB_CONTAINERS } from '../shared/platform/resources';
import { getClassificationService } from '../shared/inference/service';
import { syntheticPackage } from './serve';

const KEY = 'bench-key';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}

function autocannon(url: string, body: string, args: string[]): Promise<AutocannonResult> {
  const cli = join(__dirname, '..', 'node_modules', 'autocannon', 'autocannon.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      '--json',
      '-m',
      'POST',
      '-H',
      'content-type=application/json',
      '-H',
      `x-functions-key=${KEY}`,
      '-b',
      body,
      ...args,
      url,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as AutocannonResult)
        : reject(new Error(`autocannon exited ${code}`)),
    );
  });
}

function summary(result: AutocannonResult) {
  return {
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

async function withRss<T>(work: Promise<T>): Promise<{ result: T; rssMb: number[] }> {
  const rssMb: number[] = [];
  const timer = setInterval(() => rssMb.push(Math.round(process.memoryUsage().rss / 2 ** 20)), 1000);
  try {
    return { result: await work, rssMb };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const [rate = '200', seconds = '60', folder] = process.argv.slice(2);
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-bench-'));
  const stack = await startLocalStack({ dataDir });
  let server: HttpTriggerServer | undefined;
  try {
    Object.assign(process.env, stack.env, { MODEL_PACKAGE: 'bench/' });
    const clients = getPlatformClients();
    await ensureResources({ blobs: clients.dataBlobs, database: clients.database });
    const files =
      folder === undefined
        ? syntheticPackage().files
        : new Map(readdirSync(folder).map((name) => [name, readFileSync(join(folder, name))] as const));
    await uploadModelPackage(clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models), 'bench/', files);

    installCore();
    const root = join(__dirname, '..');
    const registrations = ['classify', 'predictions', 'openapi'].flatMap((name) =>
      loadApp({ appRoot: root, entry: `functions/${name}.ts` }),
    );
    server = new HttpTriggerServer(new FunctionRegistry(registrations, () => undefined), {
      port: 0,
      functionKey: KEY,
      log: (level, message) => {
        if (level === 'error') console.error(message);
      },
    });
    const baseUrl = await server.start();
    const url = `${baseUrl}/api/classify`;
    const body = JSON.stringify({ items: [{ description: 'cotton t-shirt knitted, size M' }] });

    const coldStarted = performance.now();
    const first = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': KEY },
      body,
    });
    await first.arrayBuffer();
    console.log(
      JSON.stringify({ coldStartMs: Math.round(performance.now() - coldStarted), status: first.status }),
    );

    const fixed = await withRss(autocannon(url, body, ['-c', '10', '-R', rate, '-d', seconds]));
    console.log(
      JSON.stringify({
        run: `fixed ${rate}/s for ${seconds}s`,
        ...summary(fixed.result),
        rssMb: fixed.rssMb,
      }),
    );
    const max = await withRss(
      autocannon(url, body, ['-c', '16', '-d', String(Math.min(Number(seconds), 20))]),
    );
    console.log(JSON.stringify({ run: 'unthrottled', ...summary(max.result), rssMb: max.rssMb }));
    const audit = getClassificationService().options.audit;
    await audit.flush();
    console.log(JSON.stringify({ audit: audit.stats() }));
  } finally {
    await server?.stop();
    await getClassificationService().close();
    await getPlatformClients().dispose();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
