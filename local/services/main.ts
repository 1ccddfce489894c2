/**
 * The emulators alone, on their default ports with data in `.local/` (Cosmos snapshotted every 30 s and on
 * Ctrl-C), and the app's containers created: what `func start` needs where Core Tools are installed.
 * Run: `npm run build && node dist/local/services/main.js`.
 */
import { loadConfig } from '../../shared/config';
import { ensureResources } from '../../shared/platform/bootstrap';
import { createPlatformClients } from '../../shared/platform/clients';
import { messageOf } from './process';
import { DEFAULT_LOCAL_DATA_DIR, DEFAULT_LOCAL_PORTS, startLocalStack } from './stack';

async function main(): Promise<void> {
  const stack = await startLocalStack({
    dataDir: process.env.HS_LOCAL_DATA_DIR ?? DEFAULT_LOCAL_DATA_DIR,
    ports: DEFAULT_LOCAL_PORTS,
    persist: true,
    cosmosSnapshotIntervalMs: 30_000,
    exitOnSignal: true,
  });
  const clients = createPlatformClients(loadConfig(stack.env));
  try {
    const ensured = await ensureResources({ blobs: clients.dataBlobs, database: clients.database });
    const created = ensured.filter((resource) => resource.created).map((resource) => resource.name);
    console.log(
      `resources: ${ensured.length} declared, created now: ${created.length > 0 ? created.join(', ') : 'none'}`,
    );
  } finally {
    await clients.dispose();
  }
  console.log(`emulators ready (pids ${stack.pids.join(', ')}); app settings:`);
  for (const [name, value] of Object.entries(stack.env)) console.log(`  ${name}=${value}`);
  console.log('Ctrl-C stops them.');
}

main().catch((error: unknown) => {
  console.error(messageOf(error));
  process.exit(1);
});
