/**
 * `npm run start:func`: where Azure Functions Core Tools (`func`) are installed, run the same app with the real
 * Functions host and the Durable extension bundle, against the same local emulators `npm start` uses. The
 * emulators start first (data in `.local/`), the app's containers are created, then `func start` runs with the
 * emulator settings in its environment. Ctrl-C stops `func`, then the emulators.
 */
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';
import { loadConfig } from '../shared/config';
import { ensureResources } from '../shared/platform/bootstrap';
import { createPlatformClients } from '../shared/platform/clients';
import { messageOf } from './services/process';
import { DEFAULT_LOCAL_DATA_DIR, DEFAULT_LOCAL_PORTS, startLocalStack } from './services/stack';

const APP_ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const probe = spawnSync('func', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.error(
      'Azure Functions Core Tools (`func`) are not installed on this machine. Use `npm start`, which runs the same ' +
        'app on the project’s local function host.',
    );
    process.exit(2);
  }
  const stack = await startLocalStack({
    dataDir: path.resolve(APP_ROOT, process.env.HS_LOCAL_DATA_DIR ?? DEFAULT_LOCAL_DATA_DIR),
    ports: DEFAULT_LOCAL_PORTS,
    persist: true,
    cosmosSnapshotIntervalMs: 30_000,
    exitOnSignal: false,
  });
  const env = { ...process.env, ...stack.env, FUNCTIONS_WORKER_RUNTIME: 'node' };
  const clients = createPlatformClients(loadConfig(env));
  try {
    await ensureResources({ blobs: clients.dataBlobs, database: clients.database });
  } finally {
    await clients.dispose();
  }
  const func = spawn('func', ['start', '--javascript'], { cwd: APP_ROOT, env, stdio: 'inherit' });
  const stopAll = (code: number): void => {
    stack.stop().then(
      () => process.exit(code),
      (error: unknown) => {
        console.error(`stopping the emulators failed: ${messageOf(error)}`);
        process.exit(1);
      },
    );
  };
  func.on('exit', (code) => stopAll(code ?? 0));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => func.kill(signal));
}

main().catch((error: unknown) => {
  console.error(messageOf(error));
  process.exit(1);
});
