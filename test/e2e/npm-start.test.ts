/**
 * `npm start` as a user runs it: the compiled launcher (`dist/local/start.js`, built by `npm test` before jest)
 * brings up Azurite, the Cosmos DB emulator and the local function host in one process tree; health answers 200;
 * SIGINT stops all of it; a second start finds the data of the first (nothing to create).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '../support/wait';

const ROOT = resolve(__dirname, '..', '..');
const LAUNCHER = join(ROOT, 'dist', 'local', 'start.js');

interface Started {
  child: ChildProcess;
  output: () => string;
  baseUrl: string;
  emulatorPids: number[];
  exited: Promise<number | null>;
}

async function startLauncher(dataDir: string): Promise<Started> {
  const child = spawn(process.execPath, [LAUNCHER], {
    cwd: ROOT,
    env: {
      ...process.env,
      HS_LOCAL_PORTS: 'free',
      FUNCTIONS_HTTP_PORT: '0',
      HS_LOCAL_DATA_DIR: dataDir,
      LOCAL_FUNCTION_KEY: 'e2e-key',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  await waitFor(
    'the launcher to print "ready"',
    () => text.includes('ready.') || child.exitCode !== null,
    60_000,
  );
  if (!text.includes('ready.')) throw new Error(`the launcher did not start:\n${text}`);
  const baseUrl = /local function host: (http:\/\/\S+)/.exec(text)?.[1];
  const pids = /emulators: pids ([\d, ]+);/.exec(text)?.[1];
  if (!baseUrl || !pids) throw new Error(`unexpected launcher output:\n${text}`);
  return {
    child,
    output: () => text,
    baseUrl,
    emulatorPids: pids.split(',').map((pid) => Number(pid.trim())),
    exited,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start (compiled launcher)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-npm-start-'));
  let running: Started | undefined;

  beforeAll(() => {
    if (!existsSync(LAUNCHER)) throw new Error(`${LAUNCHER} is missing: run \`npm run build\` first`);
  });

  afterAll(() => {
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    for (const pid of running?.emulatorPids ?? []) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts the emulators and the host, answers health, and stops everything on SIGINT', async () => {
    running = await startLauncher(dataDir);
    expect(running.output()).toMatch(/created now: (?!none)/);

    const health = await fetch(`${running.baseUrl}/api/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(body.status).toBe('ok');
    expect(body.checks.blobStorage!.ok).toBe(true);
    expect(body.checks.cosmosDb!.ok).toBe(true);

    running.child.kill('SIGINT');
    expect(await running.exited).toBe(0);
    for (const pid of running.emulatorPids) expect(isAlive(pid)).toBe(false);
  }, 120_000);

  it('keeps its data across a restart', async () => {
    running = await startLauncher(dataDir);
    expect(running.output()).toContain('created now: none');
    expect((await fetch(`${running.baseUrl}/api/health`)).status).toBe(200);
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    for (const pid of running.emulatorPids) expect(isAlive(pid)).toBe(false);
  }, 120_000);
});
