/**
 * The Cosmos DB emulator (`@vercel/cosmosdb-server`, HTTPS with its bundled self-signed certificate) in a child
 * process.
 *
 * The emulator keeps everything in memory and has no persistence of its own. So that `npm start` keeps its data
 * across restarts, the launcher snapshots every database, container and item to `<dataDir>/cosmos-snapshot.json`
 * (on stop, and periodically when `snapshotIntervalMs` is set) and loads it back on start. Restored items get new
 * `_rid`/`_etag`/`_ts` values; data written after the last snapshot is lost if the launcher itself is killed hard.
 */
import { Agent } from 'node:https';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CosmosClient, type ContainerDefinition } from '@azure/cosmos';
import { COSMOS_EMULATOR_KEY } from '../../shared/config';
import { findFreePort, messageOf, startNodeProcess, waitUntilReady, type ManagedProcess } from './process';

export const COSMOS_DEFAULT_PORT = 8081;

export interface CosmosEmulatorOptions {
  /** Holds the log and, when `persist` is set, the snapshot; created when missing. */
  readonly dataDir: string;
  /** Fixed port; a free port chosen by the OS when absent. */
  readonly port?: number;
  /** Load the snapshot on start and write it on stop. Default: false. */
  readonly persist?: boolean;
  /** With `persist`, also snapshot this often while running (only writes when something changed). Default: off. */
  readonly snapshotIntervalMs?: number;
  readonly readyTimeoutMs?: number;
}

export interface RunningCosmosEmulator {
  readonly process: ManagedProcess;
  readonly port: number;
  readonly endpoint: string;
  readonly connectionString: string;
  /** Writes the snapshot now (no-op without `persist`). */
  snapshot(): Promise<void>;
  /** Takes a final snapshot (with `persist`), then stops the process. */
  stop(): Promise<void>;
}

interface Snapshot {
  readonly format: 1;
  readonly databases: readonly {
    readonly id: string;
    readonly containers: readonly {
      readonly definition: ContainerDefinition;
      readonly items: readonly object[];
    }[];
  }[];
}

const SNAPSHOT_FILE = 'cosmos-snapshot.json';
/** System properties the server assigns; writing them back would be rejected or misleading. */
const SYSTEM_PROPERTIES = new Set(['_rid', '_self', '_etag', '_ts', '_attachments']);

function cosmosServerScript(): string {
  const packageJsonPath = require.resolve('@vercel/cosmosdb-server/package.json');
  const manifest = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { bin: Record<string, string> };
  const bin = manifest.bin['cosmosdb-server'];
  if (bin === undefined) throw new Error(`cosmosdb-server: no bin in ${packageJsonPath}`);
  return join(dirname(packageJsonPath), bin);
}

/** A client for the launcher's own use: the emulator's certificate is self-signed and it listens on loopback. */
function launcherClient(endpoint: string): CosmosClient {
  return new CosmosClient({
    endpoint,
    key: COSMOS_EMULATOR_KEY,
    agent: new Agent({ rejectUnauthorized: false }),
    connectionPolicy: { enableEndpointDiscovery: false, requestTimeout: 2000 },
  });
}

export async function startCosmosEmulator(options: CosmosEmulatorOptions): Promise<RunningCosmosEmulator> {
  mkdirSync(options.dataDir, { recursive: true });
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await findFreePort());
    const child = startNodeProcess({
      name: 'cosmosdb-server',
      script: cosmosServerScript(),
      args: ['--port', String(port), '--host', '127.0.0.1'],
      logFile: join(options.dataDir, 'cosmos.log'),
      cwd: options.dataDir,
    });
    const endpoint = `https://127.0.0.1:${port}/`;
    const client = launcherClient(endpoint);
    try {
      await waitUntilReady(
        child,
        async () => {
          await client.getDatabaseAccount({ abortSignal: AbortSignal.timeout(2000) });
        },
        { timeoutMs: options.readyTimeoutMs ?? 30_000 },
      );
    } catch (error: unknown) {
      lastError = error;
      client.dispose();
      await child.stop();
      continue;
    }
    return await running(options, child, port, endpoint, client);
  }
  throw lastError;
}

async function running(
  options: CosmosEmulatorOptions,
  child: ManagedProcess,
  port: number,
  endpoint: string,
  client: CosmosClient,
): Promise<RunningCosmosEmulator> {
  const snapshotPath = join(options.dataDir, SNAPSHOT_FILE);
  const persist = options.persist ?? false;
  if (persist && existsSync(snapshotPath)) {
    try {
      await restoreSnapshot(client, JSON.parse(readFileSync(snapshotPath, 'utf8')) as Snapshot);
    } catch (error: unknown) {
      client.dispose();
      await child.stop();
      throw new Error(`cosmosdb-server: could not restore ${snapshotPath}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  let lastWritten: string | undefined;
  let inFlight: Promise<void> | undefined;
  const snapshot = async (): Promise<void> => {
    if (!persist) return;
    // One snapshot at a time: a periodic one may still run when stop() asks for the final one.
    while (inFlight !== undefined) await inFlight;
    inFlight = (async () => {
      const text = JSON.stringify(await takeSnapshot(client));
      if (text === lastWritten) return;
      const temporary = `${snapshotPath}.tmp`;
      writeFileSync(temporary, text);
      // Rename is atomic: a crash mid-write never leaves a truncated snapshot behind.
      renameSync(temporary, snapshotPath);
      lastWritten = text;
    })();
    try {
      await inFlight;
    } finally {
      inFlight = undefined;
    }
  };

  let timer: NodeJS.Timeout | undefined;
  if (persist && options.snapshotIntervalMs !== undefined) {
    timer = setInterval(() => {
      snapshot().catch((error: unknown) => {
        console.error(`cosmosdb-server: periodic snapshot failed: ${messageOf(error)}`);
      });
    }, options.snapshotIntervalMs);
    timer.unref();
  }

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(timer);
      let snapshotError: unknown;
      if (persist && !child.hasExited()) {
        try {
          await snapshot();
        } catch (error: unknown) {
          snapshotError = error;
        }
      }
      client.dispose();
      await child.stop();
      // The process is stopped either way; a failed final snapshot is still reported.
      if (snapshotError !== undefined) {
        throw new Error(`cosmosdb-server: final snapshot failed: ${messageOf(snapshotError)}`, {
          cause: snapshotError,
        });
      }
    })();
    return stopping;
  };

  return {
    process: child,
    port,
    endpoint,
    connectionString: `AccountEndpoint=${endpoint};AccountKey=${COSMOS_EMULATOR_KEY};`,
    snapshot,
    stop,
  };
}

function withoutSystemProperties(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).filter(([key]) => !SYSTEM_PROPERTIES.has(key)));
}

async function takeSnapshot(client: CosmosClient): Promise<Snapshot> {
  const { resources: databases } = await client.databases.readAll().fetchAll();
  const result: Snapshot['databases'][number][] = [];
  for (const database of databases) {
    const { resources: containers } = await client.database(database.id).containers.readAll().fetchAll();
    const snapshotContainers: Snapshot['databases'][number]['containers'][number][] = [];
    for (const container of containers) {
      const { resources: items } = await client
        .database(database.id)
        .container(container.id)
        .items.readAll<Record<string, unknown> & { id: string }>()
        .fetchAll();
      snapshotContainers.push({
        definition: {
          id: container.id,
          partitionKey: container.partitionKey,
          indexingPolicy: container.indexingPolicy,
          defaultTtl: container.defaultTtl,
          uniqueKeyPolicy: container.uniqueKeyPolicy,
        },
        items: items.map(withoutSystemProperties),
      });
    }
    result.push({ id: database.id, containers: snapshotContainers });
  }
  return { format: 1, databases: result };
}

const RESTORE_CONCURRENCY = 16;

async function restoreSnapshot(client: CosmosClient, snapshot: Snapshot): Promise<void> {
  if (snapshot.format !== 1) throw new Error(`unknown snapshot format ${String(snapshot.format)}`);
  for (const database of snapshot.databases) {
    const { database: target } = await client.databases.createIfNotExists({ id: database.id });
    for (const { definition, items } of database.containers) {
      const { container } = await target.containers.createIfNotExists(definition);
      for (let start = 0; start < items.length; start += RESTORE_CONCURRENCY) {
        await Promise.all(
          items.slice(start, start + RESTORE_CONCURRENCY).map((item) => container.items.upsert(item)),
        );
      }
    }
  }
}
