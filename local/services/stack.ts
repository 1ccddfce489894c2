/**
 * The local stand-ins for Azure: Azurite for both storage accounts and the Cosmos DB emulator, started together,
 * with the app settings that point at them.
 */
import { join, resolve } from 'node:path';
import { SETTING } from '../../shared/config';
import { AZURITE_DEFAULT_PORTS, startAzurite, type RunningAzurite } from './azurite';
import { COSMOS_DEFAULT_PORT, startCosmosEmulator, type RunningCosmosEmulator } from './cosmos';
import { livePids, messageOf } from './process';

export interface LocalStackPorts {
  readonly blob: number;
  readonly queue: number;
  readonly table: number;
  readonly cosmos: number;
}

/** The ports the emulators use by default, which `UseDevelopmentStorage=true` and the config defaults expect. */
export const DEFAULT_LOCAL_PORTS: LocalStackPorts = Object.freeze({
  ...AZURITE_DEFAULT_PORTS,
  cosmos: COSMOS_DEFAULT_PORT,
});

/** Where `npm start` keeps emulator data (git-ignored). */
export const DEFAULT_LOCAL_DATA_DIR = '.local';

export interface LocalStackOptions {
  /** Emulator data: `<dataDir>/azurite` and `<dataDir>/cosmos`. */
  readonly dataDir: string;
  /** Fixed ports (e.g. `DEFAULT_LOCAL_PORTS`); free ports chosen by the OS when absent (tests). */
  readonly ports?: LocalStackPorts;
  /** Keep Cosmos data across restarts through snapshots (Azurite always persists to its folder). Default: false. */
  readonly persist?: boolean;
  /** With `persist`, snapshot Cosmos this often while running. Default: off (snapshot on stop only). */
  readonly cosmosSnapshotIntervalMs?: number;
  /** Stop the stack and exit on SIGINT, SIGTERM and SIGHUP. Default: false (the caller owns the signals). */
  readonly exitOnSignal?: boolean;
}

export interface LocalStack {
  /** App settings pointing at the emulators: AzureWebJobsStorage, DataStorage, CosmosDb, HS_ENV. */
  readonly env: Readonly<Record<string, string>>;
  readonly azurite: RunningAzurite;
  readonly cosmos: RunningCosmosEmulator;
  /** Pids of the emulator processes, alive or not. */
  readonly pids: readonly number[];
  /** Stops both emulators (Cosmos snapshot first, with `persist`); safe to call more than once. */
  stop(): Promise<void>;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_EXIT_CODES: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir);
  const ports = options.ports;
  const [azuriteResult, cosmosResult] = await Promise.allSettled([
    startAzurite({
      dataDir: join(dataDir, 'azurite'),
      ports: ports === undefined ? undefined : { blob: ports.blob, queue: ports.queue, table: ports.table },
    }),
    startCosmosEmulator({
      dataDir: join(dataDir, 'cosmos'),
      port: ports?.cosmos,
      persist: options.persist,
      snapshotIntervalMs: options.cosmosSnapshotIntervalMs,
    }),
  ]);
  if (azuriteResult.status === 'rejected' || cosmosResult.status === 'rejected') {
    // Whichever did start must not outlive the failure.
    if (azuriteResult.status === 'fulfilled') await azuriteResult.value.stop();
    if (cosmosResult.status === 'fulfilled') await cosmosResult.value.stop();
    const reasons = [azuriteResult, cosmosResult]
      .filter((result): result is PromiseRejectedResult => result.status === 'rejected')
      .map((result) => messageOf(result.reason));
    throw new Error(`local stack failed to start:\n${reasons.join('\n')}`);
  }
  const azurite = azuriteResult.value;
  const cosmos = cosmosResult.value;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      // A second Ctrl-C means "now": the exit hook kills the process groups synchronously.
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    console.error(`\n${signal}: stopping the local emulators...`);
    stop().then(
      () => process.exit(SIGNAL_EXIT_CODES[signal] ?? 1),
      (error: unknown) => {
        console.error(`stopping the local emulators failed: ${messageOf(error)}`);
        process.exit(1);
      },
    );
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const results = await Promise.allSettled([cosmos.stop(), azurite.stop()]);
      if (options.exitOnSignal === true) for (const signal of SIGNALS) process.off(signal, onSignal);
      const failures = results.filter(
        (result): result is PromiseRejectedResult => result.status === 'rejected',
      );
      if (failures.length > 0)
        throw new Error(failures.map((failure) => messageOf(failure.reason)).join('\n'));
    })();
    return stopping;
  };

  if (options.exitOnSignal === true) for (const signal of SIGNALS) process.on(signal, onSignal);

  return {
    env: Object.freeze({
      [SETTING.environment]: 'local',
      [SETTING.hostStorage]: azurite.connectionString,
      [SETTING.dataStorage]: azurite.connectionString,
      [SETTING.cosmos]: cosmos.connectionString,
    }),
    azurite,
    cosmos,
    pids: [azurite.process.pid, cosmos.process.pid],
    stop,
  };
}

export { livePids };
