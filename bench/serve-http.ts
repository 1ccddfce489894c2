/**
 * Over-HTTP serving benchmark through the local function host, with Azurite and the Cosmos emulator (audit
 * records are really written): cold start (first request, model load included), a fixed rate (default 200/s for
 * 60 s) and an unthrottled run for the maximum sustainable rate, with RSS sampled every second to show whether
 * memory stays flat. The load generators (keep-alive connections) run as separate processes so they do not share
 * the server's event loop. Each run also reports the server's own latency (request in to response
 * finished, from Node's http diagnostics channels) and the event loop's delay, which separate time spent in the
 * server from time spent queued in the load generator or the kernel.
 *
 *   node -r ./bench/swc-register.js bench/serve-http.ts [RATE=200] [SECONDS=60] [PACKAGE_FOLDER] [options]
 *
 * The fixed-rate run's load comes from bench/paced-load.ts by default: requests due at steady intervals, latency
 * from the due time. `--generator autocannon` uses autocannon's `-R` instead, which sends each second's quota as
 * a burst at full concurrency (a burst test, not a steady rate). The unthrottled run always uses autocannon.
 *
 * Options: --generator paced|autocannon (paced), --connections N (10, autocannon only), --max-seconds N
 * (min(SECONDS, 20); 0 skips the unthrottled run), --explain true|false (true), --micro-batch-ms N and --micro-batch-max N (CLASSIFY_MICRO_BATCH_MS / _MAX_ITEMS),
 * --intra-op N (ONNX_INTRA_OP_THREADS).
 */
import { spawn } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
import { SETTING } from '../shared/config';
import { syntheticPackage } from './serve';
import { percentile } from './percentile';

const KEY = 'bench-key';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}

/** Runs a load generator as its own process and parses the one JSON result it prints. */
function loadProcess(name: string, args: readonly string[]): Promise<AutocannonResult> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as AutocannonResult) : reject(new Error(`${name} exited ${code}`)),
    );
  });
}

function autocannon(url: string, body: string, args: string[]): Promise<AutocannonResult> {
  return loadProcess('autocannon', [
    require.resolve('autocannon/autocannon.js'),
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
  ]);
}

/**
 * The fixed-rate run's load: bench/paced-load.ts (steady open-loop arrivals, latency from each request's due time)
 * as a separate process, run the way this script runs (compiled, or through the SWC hook).
 */
function pacedLoad(url: string, body: string, rate: string, seconds: string): Promise<AutocannonResult> {
  const hook = process.execArgv.filter((arg) => !arg.startsWith('--cpu-prof'));
  return loadProcess('paced-load', [
    ...hook,
    join(__dirname, `paced-load${extname(__filename)}`),
    url,
    rate,
    seconds,
    body,
    'content-type=application/json',
    `x-functions-key=${KEY}`,
  ]);
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

/** Server-side latency of every request: from the request's arrival to its response's last byte handed over. */
const serverLatencies: number[] = [];
const arrivals = new WeakMap<IncomingMessage, number>();
subscribe('http.server.request.start', (message) => {
  arrivals.set((message as { request: IncomingMessage }).request, performance.now());
});
subscribe('http.server.response.finish', (message) => {
  const { request } = message as { request: IncomingMessage; response: ServerResponse };
  const arrived = arrivals.get(request);
  if (arrived !== undefined) serverLatencies.push(performance.now() - arrived);
});

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** CPU seconds (user + system) a process has used so far, from /proc; undefined where /proc is not readable. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch (error: unknown) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Per-request CPU milliseconds of the server process and of the emulators: latency-free cost, robust to noise. */
function cpuMeter(
  emulatorPids: readonly number[],
): (requests: number) => { server: number; emulators: number } {
  const server = process.cpuUsage();
  const emulatorsAt = (): number =>
    emulatorPids.reduce((total, pid) => total + (processCpuSeconds(pid) ?? 0), 0);
  const emulators = emulatorsAt();
  return (requests) => {
    const used = process.cpuUsage(server);
    return {
      server: Math.round(((used.user + used.system) / 1000 / Math.max(1, requests)) * 100) / 100,
      emulators: Math.round((((emulatorsAt() - emulators) * 1000) / Math.max(1, requests)) * 100) / 100,
    };
  };
}

interface RunObservations {
  cpuMsPerRequest: { server: number; emulators: number };
  rssMb: number[];
  server: { p50Ms: number; p99Ms: number; maxMs: number };
  eventLoopDelay: { p50Ms: number; p99Ms: number; maxMs: number };
}

/** RSS every second, the server's latencies and the event loop's delay while `work` runs. */
async function observed(
  work: Promise<AutocannonResult>,
  emulatorPids: readonly number[],
): Promise<{ result: AutocannonResult } & RunObservations> {
  const cpu = cpuMeter(emulatorPids);
  const rssMb: number[] = [];
  const timer = setInterval(() => rssMb.push(Math.round(process.memoryUsage().rss / 2 ** 20)), 1000);
  serverLatencies.length = 0;
  // Under --cpu-prof, the run's window on the profile's clock (microseconds), to cut the profile to the run.
  const profiling = process.execArgv.some((arg) => arg.startsWith('--cpu-prof'));
  const startedUs = process.hrtime.bigint() / 1000n;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  try {
    const result = await work;
    loop.disable();
    if (profiling)
      console.log(
        JSON.stringify({ profileWindowUs: [String(startedUs), String(process.hrtime.bigint() / 1000n)] }),
      );
    const sorted = [...serverLatencies].sort((a, b) => a - b);
    return {
      result,
      cpuMsPerRequest: cpu(result.requests.total),
      rssMb,
      server: {
        p50Ms: round1(percentile(sorted, 50)),
        p99Ms: round1(percentile(sorted, 99)),
        maxMs: round1(sorted[sorted.length - 1] ?? NaN),
      },
      eventLoopDelay: {
        p50Ms: round1(loop.percentile(50) / 1e6),
        p99Ms: round1(loop.percentile(99) / 1e6),
        maxMs: round1(loop.max / 1e6),
      },
    };
  } finally {
    clearInterval(timer);
    loop.disable();
  }
}

/** `--name value` options after the positional arguments. */
function parseArguments(argv: readonly string[]): { positional: string[]; options: Map<string, string> } {
  const positional: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const value = argv[i + 1];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      options.set(arg.slice(2), value);
      i++;
    } else {
      positional.push(arg);
    }
  }
  return { positional, options };
}

async function main(): Promise<void> {
  const { positional, options } = parseArguments(process.argv.slice(2));
  const [rate = '200', seconds = '60', folder] = positional;
  const connections = options.get('connections') ?? '10';
  const generator = options.get('generator') ?? 'paced';
  if (generator !== 'paced' && generator !== 'autocannon')
    throw new Error(`--generator: 'paced' or 'autocannon', got '${generator}'`);
  const maxSeconds = Number(options.get('max-seconds') ?? Math.min(Number(seconds), 20));
  const explain = (options.get('explain') ?? 'true') === 'true';
  const environment: [string, string | undefined][] = [
    [SETTING.classifyMicroBatchMs, options.get('micro-batch-ms')],
    [SETTING.classifyMicroBatchMaxItems, options.get('micro-batch-max')],
    ['ONNX_INTRA_OP_THREADS', options.get('intra-op')],
  ];
  for (const [name, value] of environment) if (value !== undefined) process.env[name] = value;
  console.log(
    JSON.stringify({ rate, seconds, generator, connections, maxSeconds, explain, settings: environment }),
  );
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
    const body = JSON.stringify({ items: [{ description: 'cotton t-shirt knitted, size M' }], explain });

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

    const fixed = await observed(
      generator === 'paced'
        ? pacedLoad(url, body, rate, seconds)
        : autocannon(url, body, ['-c', connections, '-R', rate, '-d', seconds]),
      stack.pids,
    );
    console.log(
      JSON.stringify({
        run: `fixed ${rate}/s for ${seconds}s (${generator})`,
        ...summary(fixed.result),
        server: fixed.server,
        cpuMsPerRequest: fixed.cpuMsPerRequest,
        eventLoopDelay: fixed.eventLoopDelay,
        rssMb: fixed.rssMb,
      }),
    );
    if (maxSeconds > 0) {
      const max = await observed(autocannon(url, body, ['-c', '16', '-d', String(maxSeconds)]), stack.pids);
      console.log(
        JSON.stringify({
          run: 'unthrottled',
          ...summary(max.result),
          server: max.server,
          cpuMsPerRequest: max.cpuMsPerRequest,
          eventLoopDelay: max.eventLoopDelay,
          rssMb: max.rssMb,
        }),
      );
    }
    const batcher = getClassificationService().options.batcher;
    if (batcher !== undefined) console.log(JSON.stringify({ microBatch: batcher.stats() }));
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
