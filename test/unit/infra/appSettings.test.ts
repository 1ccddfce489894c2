import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  loadConfig,
  loadMonitoringConfig,
  loadRetrainScheduleConfig,
  RETRAIN_SCHEDULE_SETTING,
  SETTING,
  type Env,
} from '../../../shared/config';
import { appSettingNames } from '../../../infra/settings';
import { ofType, runStack, type StackRun } from './harness';

/**
 * The app's config module is the judge of the generated settings: they must load in Azure mode as they are,
 * and what the module reports missing in an empty Azure environment must be among them.
 */

let run: StackRun;
let settings: Record<string, string>;

beforeAll(async () => {
  run = await runStack({ retrainSchedule: '0 30 1 * * 6' });
  const [app] = ofType(run, 'web:WebApp');
  const pairs = app!.inputs.siteConfig.appSettings as { name: string; value: string }[];
  settings = Object.fromEntries(pairs.map((pair) => [pair.name, pair.value]));
});

function problemsOf(env: Env, load: (env: Env) => unknown = loadConfig): readonly string[] {
  try {
    load(env);
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function without(names: (name: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).filter(([name]) => !names(name)));
}

describe('generated app settings against the config module', () => {
  it('load in Azure mode, identity-based, pointing at the provisioned resources', () => {
    const config = loadConfig(settings);
    const host = run.outputs.hostStorageAccountName;
    const data = run.outputs.dataStorageAccountName;
    expect(config.environment).toBe('azure');
    expect(config.hostStorage).toEqual({
      kind: 'identity',
      blobServiceUri: `https://${host}.blob.core.windows.net`,
      queueServiceUri: `https://${host}.queue.core.windows.net`,
      tableServiceUri: `https://${host}.table.core.windows.net`,
      clientId: undefined,
    });
    expect(config.dataStorage).toMatchObject({
      kind: 'identity',
      blobServiceUri: `https://${data}.blob.core.windows.net/`,
      queueServiceUri: `https://${data}.queue.core.windows.net/`,
    });
    expect(config.cosmos).toMatchObject({ kind: 'identity', endpoint: run.outputs.cosmosEndpoint });
    expect(config.serviceBus).toEqual({
      kind: 'identity',
      fullyQualifiedNamespace: run.outputs.serviceBusNamespace,
      clientId: undefined,
    });
    expect(config.cosmosDatabase).toBe('hsmlops');
  });

  it('load the monitoring settings and carry the configured retraining schedule', () => {
    expect(() => loadMonitoringConfig(settings)).not.toThrow();
    expect(loadRetrainScheduleConfig(settings).schedule).toBe('0 30 1 * * 6');
  });

  it('include a setting for everything the module requires in Azure', () => {
    const problems = problemsOf({ [SETTING.environment]: 'azure' });
    // Host storage, data storage and Cosmos DB have no Azure default; the list must not be empty.
    expect(problems.length).toBeGreaterThanOrEqual(3);
    for (const problem of problems) {
      const suggested = problem.match(/\b[A-Za-z]+__[A-Za-z]+\b/g) ?? [];
      expect(suggested.length).toBeGreaterThan(0);
      expect(suggested.filter((name) => name in settings)).not.toEqual([]);
    }
  });

  it('fail naming the connection when any required connection is taken away', () => {
    const required = problemsOf({ [SETTING.environment]: 'azure' }).map((problem) => problem.split(':')[0]!);
    expect(required.sort()).toEqual([SETTING.cosmos, SETTING.dataStorage, SETTING.hostStorage].sort());
    for (const connection of required) {
      const problems = problemsOf(without((name) => name.startsWith(`${connection}__`)));
      expect(problems.some((problem) => problem.startsWith(`${connection}:`))).toBe(true);
    }
  });

  it('fail naming the setting when any single value is malformed', () => {
    const checked = Object.keys(settings).filter(
      (name) => !name.startsWith('APPLICATIONINSIGHTS_') && name !== appSettingNames.deploymentPackageSha256,
    );
    // Application Insights settings are read by the Functions host, and the package digest by nobody (changing it
    // restarts the app); every other one is read by the config module.
    expect(checked.length).toBe(Object.keys(settings).length - 3);
    for (const name of checked) {
      const load = name === RETRAIN_SCHEDULE_SETTING ? loadRetrainScheduleConfig : loadConfig;
      const problems = problemsOf({ ...settings, [name]: 'not valid/' }, load);
      expect({ name, named: problems.some((problem) => problem.startsWith(name.split('__')[0]!)) }).toEqual({
        name,
        named: true,
      });
    }
  });

  it('give every binding connection in functions/ its identity-based settings', () => {
    const functionsDir = join(__dirname, '../../../functions');
    const connections = new Set<string>([SETTING.hostStorage]);
    for (const file of readdirSync(functionsDir).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(join(functionsDir, file), 'utf8');
      for (const match of source.matchAll(/connection:\s*'([^']+)'/g)) connections.add(match[1]!);
    }
    expect(connections.size).toBeGreaterThan(1);
    for (const connection of connections) {
      expect(Object.keys(settings).filter((name) => name.startsWith(`${connection}__`))).not.toEqual([]);
      expect(settings).not.toHaveProperty(connection);
    }
  });
});

describe('generated app settings hold no secret', () => {
  it('has no value that carries a key, signature, password or keyed connection string', () => {
    const secretLooking = /AccountKey=|SharedAccessKey|SharedAccessSignature|\bsig=|Password|ClientSecret/i;
    expect(Object.entries(settings).filter(([, value]) => secretLooking.test(value))).toEqual([]);
  });

  it('keeps the Application Insights connection string to its address parts', () => {
    const value = settings.APPLICATIONINSIGHTS_CONNECTION_STRING!;
    const keys = value
      .split(';')
      .filter((part) => part.trim() !== '')
      .map((part) => part.slice(0, part.indexOf('=')));
    // The instrumentation key routes telemetry; with local auth off on the component it authorises nothing.
    expect(keys.sort()).toEqual(['IngestionEndpoint', 'InstrumentationKey']);
    expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe('Authorization=AAD');
  });
});
