/**
 * The local emulators for jest tests: free ports, a temporary data folder, and config and clients built from the
 * stack's settings. Call `stop()` in `afterAll`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resetConfigForTests, type AppConfig } from '../../shared/config';
import {
  createPlatformClients,
  resetPlatformClientsForTests,
  type PlatformClients,
} from '../../shared/platform/clients';
import { startLocalStack, type LocalStack } from '../../local/services/stack';

export interface TestStack extends LocalStack {
  readonly dataDir: string;
  readonly config: AppConfig;
  readonly clients: PlatformClients;
  /**
   * Points `process.env` (and so `getConfig()` / `getPlatformClients()`) at this stack, for code under test that
   * reads the shared config; `stop()` restores the previous values.
   */
  useAsProcessEnv(): Promise<void>;
}

export async function startTestStack(options: { cosmosDatabase?: string } = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-stack-'));
  let stack: LocalStack;
  try {
    stack = await startLocalStack({ dataDir });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const env = {
    ...stack.env,
    ...(options.cosmosDatabase ? { COSMOS_DATABASE: options.cosmosDatabase } : {}),
  };
  const config = loadConfig(env);
  const clients = createPlatformClients(config);
  const saved = new Map<string, string | undefined>();
  let usesProcessEnv = false;

  return {
    ...stack,
    env,
    dataDir,
    config,
    clients,
    useAsProcessEnv: async () => {
      for (const [name, value] of Object.entries(env)) {
        if (!saved.has(name)) saved.set(name, process.env[name]);
        process.env[name] = value;
      }
      usesProcessEnv = true;
      resetConfigForTests();
      await resetPlatformClientsForTests();
    },
    stop: async () => {
      await clients.dispose();
      if (usesProcessEnv) {
        for (const [name, value] of saved) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        resetConfigForTests();
        await resetPlatformClientsForTests();
      }
      try {
        await stack.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
